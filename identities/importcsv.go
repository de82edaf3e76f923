package identities

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"passerelle/kratos"
)

// Row is one data row of an import file.
type Row struct {
	// Line is the row's line number in the file (the header is line 1).
	Line   int
	Record kratos.ClientRecord
	// Err is why the row is refused (nil: it may be imported).
	Err error
}

// columns maps the header names the agency's exports use to a field.
var columns = map[string]string{
	"email": "email", "e-mail": "email", "mail": "email", "courriel": "email", "adresse e-mail": "email",
	"name": "name", "nom": "name", "nom complet": "name",
	"first_name": "first", "first name": "first", "prénom": "first", "prenom": "first",
	"last_name": "last", "last name": "last",
	"role": "role", "rôle": "role", "type": "role",
	"lots": "lots", "lot": "lots",
	"mandates": "mandates", "mandats": "mandates", "mandat": "mandates", "mandate": "mandates",
}

// ReadCSV reads the management software's export: a header row naming the
// columns (any order; e-mail, name or first_name + last_name/nom, role,
// lots, mandates, in English or French), then one client per row. The
// delimiter is the header's: a comma, or a semicolon (French spreadsheets);
// lots and mandates are separated by "|", or also by ";" when the delimiter
// is a comma. Every row is validated (Validate; an e-mail repeated in the
// file is refused on its later lines); a refused row carries its reason and
// never stops the others. An unreadable header is an error.
func ReadCSV(r io.Reader) ([]Row, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("lecture du fichier : %w", err)
	}
	text := strings.TrimPrefix(string(raw), "\ufeff") // Excel's BOM
	header, _, _ := strings.Cut(text, "\n")
	delim, listSeps := ',', "|;"
	if strings.Count(header, ";") > strings.Count(header, ",") {
		delim, listSeps = ';', "|"
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma, cr.FieldsPerRecord, cr.TrimLeadingSpace = delim, -1, true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("ligne 1 : en-tête illisible : %w", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		f, ok := columns[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			return nil, fmt.Errorf("ligne 1 : colonne « %s » inconnue (attendu : email, name, role, lots, mandates)", h)
		}
		if _, dup := idx[f]; dup {
			return nil, fmt.Errorf("ligne 1 : colonne « %s » en double", h)
		}
		idx[f] = i
	}
	// "nom" next to "prénom" is the last name.
	if _, ok := idx["first"]; ok {
		if n, ok := idx["name"]; ok {
			if _, last := idx["last"]; !last {
				idx["last"] = n
			}
			delete(idx, "name")
		}
	}
	for _, need := range []string{"email", "role"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("ligne 1 : colonne %s manquante", need)
		}
	}
	if _, ok := idx["name"]; !ok {
		if _, ok := idx["last"]; !ok {
			return nil, errors.New("ligne 1 : colonne name (ou prénom et nom) manquante")
		}
	}
	var rows []Row
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			rows = append(rows, Row{Line: line, Err: fmt.Errorf("ligne illisible : %w", err)})
			continue
		}
		if blank(rec) {
			continue
		}
		row := Row{Line: line}
		get := func(f string) string {
			if i, ok := idx[f]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		c := kratos.ClientRecord{Email: get("email"), Lots: SplitList(get("lots"), listSeps), Mandates: SplitList(get("mandates"), listSeps)}
		if _, ok := idx["name"]; ok {
			c.First, c.Last = SplitName(get("name"))
		} else {
			c.First, c.Last = get("first"), get("last")
		}
		role, rerr := ParseRole(get("role"))
		c.Role, row.Err = role, rerr
		if row.Err == nil {
			row.Err = Validate(&c)
		}
		if row.Err == nil {
			if first, dup := seen[c.Email]; dup {
				row.Err = fmt.Errorf("adresse %s déjà à la ligne %d", c.Email, first)
			} else {
				seen[c.Email] = line
			}
		}
		row.Record = c
		rows = append(rows, row)
	}
	return rows, nil
}

func blank(rec []string) bool {
	return !slices.ContainsFunc(rec, func(s string) bool { return strings.TrimSpace(s) != "" })
}

// Outcomes of an imported row.
const (
	OutcomeCreated = "créé et invité"
	OutcomeSame    = "déjà là (inchangé)"
	OutcomeUpdated = "mis à jour"
	OutcomeRefused = "refusé"
	OutcomeFailed  = "échec"
)

// RowResult is what the import did with a row.
type RowResult struct {
	Row
	// Outcome is one of the Outcome constants.
	Outcome string
	// Detail says what changed (updated), would be done (dry run) or why
	// (refused, failed).
	Detail string
}

// Import applies the rows, one at a time: a new e-mail is created and
// invited (Invite), an existing identity whose name, role, lots or mandates
// differ is updated (no mail), the same one is left alone: a second run
// reports every row "already there". A refused or failed row never stops
// the next. With dryRun nothing is written and no mail sent: the outcomes
// say what would be done. report is called after each row.
func (s *Service) Import(ctx context.Context, rows []Row, dryRun bool, report func(RowResult)) {
	dir := s.directory()
	for _, r := range rows {
		res := RowResult{Row: r}
		s.importRow(ctx, dir, &res, dryRun)
		report(res)
	}
}

func (s *Service) importRow(ctx context.Context, dir *kratos.Directory, res *RowResult, dryRun bool) {
	if res.Err != nil {
		res.Outcome, res.Detail = OutcomeRefused, res.Err.Error()
		return
	}
	c := res.Record
	cur, err := dir.FindClient(ctx, c.Email)
	switch {
	case errors.Is(err, kratos.ErrNotFound):
		res.Outcome = OutcomeCreated
		if dryRun {
			res.Detail = "serait créé et invité"
			return
		}
		if _, err := s.Invite(ctx, c); err != nil {
			res.Outcome, res.Detail = OutcomeFailed, err.Error()
		}
	case err != nil:
		res.Outcome, res.Detail = OutcomeFailed, err.Error()
	case cur.ClientRecord.Same(c):
		res.Outcome = OutcomeSame
	default:
		res.Outcome, res.Detail = OutcomeUpdated, describeChange(cur.ClientRecord, c)
		if dryRun {
			res.Detail = "serait mis à jour : " + res.Detail
			return
		}
		if err := dir.UpdateClient(ctx, cur.ID, c); err != nil {
			res.Outcome, res.Detail = OutcomeFailed, err.Error()
		}
	}
}

// describeChange says, in French, what differs from old to next.
func describeChange(old, next kratos.ClientRecord) string {
	var parts []string
	if old.Name() != next.Name() {
		parts = append(parts, fmt.Sprintf("nom « %s » → « %s »", old.Name(), next.Name()))
	}
	if old.Role != next.Role {
		parts = append(parts, fmt.Sprintf("rôle %s → %s", orDash(string(old.Role)), next.Role))
	}
	if j, k := joinSorted(old.Lots), joinSorted(next.Lots); j != k {
		parts = append(parts, fmt.Sprintf("lots %s → %s", orDash(j), orDash(k)))
	}
	if j, k := joinSorted(old.Mandates), joinSorted(next.Mandates); j != k {
		parts = append(parts, fmt.Sprintf("mandats %s → %s", orDash(j), orDash(k)))
	}
	return strings.Join(parts, ", ")
}

func joinSorted(l []string) string {
	c := slices.Clone(l)
	slices.Sort(c)
	return strings.Join(slices.Compact(c), "|")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
