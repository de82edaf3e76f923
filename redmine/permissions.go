package redmine

import (
	"context"
	"net/url"
	"slices"
	"strconv"
)

// Membership is one project membership of the current user, with its roles
// (also those inherited from a group).
type Membership struct {
	Project IDName   `json:"project"`
	Roles   []IDName `json:"roles"`
}

// MyMemberships returns the project memberships of the user the API key
// belongs to (GET /users/current.json?include=memberships).
func (c *Client) MyMemberships(ctx context.Context) ([]Membership, error) {
	var out struct {
		User struct {
			Memberships []Membership `json:"memberships"`
		} `json:"user"`
	}
	_, err := c.do(ctx, "GET", "/users/current.json", url.Values{"include": {"memberships"}}, nil, &out)
	return out.User.Memberships, err
}

// RolePermissions returns the permissions of a role, such as
// "set_notes_private" (GET /roles/:id.json, readable with any API key).
func (c *Client) RolePermissions(ctx context.Context, roleID int) ([]string, error) {
	var out struct {
		Role struct {
			Permissions []string `json:"permissions"`
		} `json:"role"`
	}
	_, err := c.do(ctx, "GET", "/roles/"+strconv.Itoa(roleID)+".json", nil, nil, &out)
	return out.Role.Permissions, err
}

// HasPermission tells whether the current user holds a permission in a
// project through one of its roles there. Permissions of the built-in
// Non member role on public projects are not considered: the answer errs on
// the side of "no".
func (c *Client) HasPermission(ctx context.Context, projectID int, permission string) (bool, error) {
	ms, err := c.MyMemberships(ctx)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Project.ID != projectID {
			continue
		}
		for _, r := range m.Roles {
			perms, err := c.RolePermissions(ctx, r.ID)
			if err != nil {
				return false, err
			}
			if slices.Contains(perms, permission) {
				return true, nil
			}
		}
	}
	return false, nil
}
