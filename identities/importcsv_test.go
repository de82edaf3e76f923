package identities

import (
	"strconv"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// want is, per row, "line:email:first/last:lots:mandates" or "line!error part".
		want    []string
		wantErr string
	}{
		{
			name: "comma file, lists with ; or |, bad rows reported with their line",
			in: "email,name,role,lots,mandates\n" +
				"camille@example.test,Camille Martin,tenant,A12;B3,\n" +
				"\n" +
				"pas-une-adresse,Bob,tenant,A1,\n" +
				"p@example.test,Paul Durand,owner,A12|C4,M-7\n" +
				"x@example.test,Xavier,gardien,,\n" +
				"CAMILLE@example.test,Camille Bis,tenant,A1,\n" +
				"o@example.test,Olga,owner,A1,\n",
			want: []string{"2:camille@example.test:Camille/Martin:A12,B3:", "4!invalide", "5:p@example.test:Paul/Durand:A12,C4:M-7",
				"6!« gardien » inconnu", "7!déjà à la ligne 2", "8!au moins un mandat"},
		},
		{
			name: "semicolon file (French spreadsheet) with BOM, French headers, prénom + nom",
			in:   "\ufeffCourriel;Prénom;Nom;Rôle;Lots;Mandats\r\nl@example.test;Léa;Petit;locataire;A1|A2;\r\n",
			want: []string{"2:l@example.test:Léa/Petit:A1,A2:"},
		},
		{
			name: "quoted field with a newline keeps the next line number right",
			in:   "email,name,role,lots\n\"a@example.test\",\"Anne\nMarie\",tenant,A1\nb@example.test,Bea,tenant,B1\n",
			want: []string{"2:a@example.test:Anne/Marie:A1:", "4:b@example.test:/Bea:B1:"},
		},
		{name: "unknown column", in: "email,name,role,telephone\n", wantErr: "« telephone » inconnue"},
		{name: "missing role column", in: "email,name\n", wantErr: "colonne role manquante"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadCSV(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d: %+v", len(rows), len(tc.want), rows)
			}
			for i, r := range rows {
				w := tc.want[i]
				if line, msg, bad := strings.Cut(w, "!"); bad {
					if r.Err == nil || !strings.Contains(r.Err.Error(), msg) || itoa(r.Line) != line {
						t.Errorf("row %d: line %d err %v, want line %s %q", i, r.Line, r.Err, line, msg)
					}
					continue
				}
				c := r.Record
				got := strings.Join([]string{itoa(r.Line), c.Email, c.First + "/" + c.Last, strings.Join(c.Lots, ","), strings.Join(c.Mandates, ",")}, ":")
				if r.Err != nil || got != w {
					t.Errorf("row %d: %s (err %v), want %s", i, got, r.Err, w)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
