package kratos

import (
	"context"
	"slices"

	"passerelle/config"
)

// OwnersOfLot returns the active owners who hold lot (metadata_public), for
// the mails about requests filed on their lots. Kratos v1.3.1 cannot filter
// identities by metadata: every identity is listed (pages of 500) and
// filtered here; a sweep asks once per lot.
func (d *Directory) OwnersOfLot(ctx context.Context, lot string) ([]Identity, error) {
	var out []Identity
	token := ""
	for {
		req := d.api.IdentityAPI.ListIdentities(ctx).PageSize(500)
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := req.Execute()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return nil, kratosCause("listing identities", resp, err)
		}
		for i := range list {
			id, err := directoryIdentity(&list[i])
			if err != nil {
				continue // inactive, or no valid role
			}
			if id.Role == config.RoleOwner && slices.Contains(id.Lots, lot) {
				out = append(out, id)
			}
		}
		token = nextPageToken(resp)
		if token == "" || len(list) == 0 {
			return out, nil
		}
	}
}
