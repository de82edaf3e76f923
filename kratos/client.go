package kratos

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	ory "github.com/ory/kratos-client-go"
)

// DefaultTimeout bounds one call to Kratos.
const DefaultTimeout = 5 * time.Second

func newClient(baseURL string, hc *http.Client) *ory.APIClient {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	c := ory.NewConfiguration()
	c.Servers = ory.ServerConfigurations{{URL: strings.TrimRight(baseURL, "/")}}
	c.HTTPClient = hc
	c.UserAgent = "passerelle"
	return ory.NewAPIClient(c)
}

// kratosCause describes a failed Kratos call for the log (never a token: the
// client puts credentials in headers only).
func kratosCause(what string, resp *http.Response, err error) error {
	if resp != nil {
		return fmt.Errorf("%s: kratos answered %s: %w", what, resp.Status, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
