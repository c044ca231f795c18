package huaweicloud

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/reimage-dev/reimage/providers"
)

// MaxListLimit is the page of a listing: the detail call's largest limit.
const MaxListLimit = 1000

var _ providers.Lister = (*Client)(nil)

// nameSafe is what the name filter may carry: ECS reads it as a pattern ("."
// any character), so a run with other pattern characters is not sent.
var nameSafe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// List pages through GET /v1/{project}/cloudservers/detail with limit 1000
// and marker (the last id of the previous page; offset is deprecated), with
// the tags as tags=key=value filters (one per pair) and the longest literal
// run of the name glob as the fuzzy name filter. ECS has no zone filter, and
// how it combines several tags is undocumented: every field is checked
// exactly on the client. The listing stops on a short page: 2,500 servers
// cost 3 calls. It does not stop on count, as whether count is the total or
// what is left after the marker is undocumented; trusting it wrongly would
// drop servers, not trusting it costs one empty page when the total is a
// multiple of 1000.
func (c *Client) List(ctx context.Context, f providers.Filter) ([]providers.Instance, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("huaweicloud %s: listing servers: %w", c.name, err)
	}
	q := url.Values{"limit": {strconv.Itoa(MaxListLimit)}}
	if run, _ := f.NameLiteral(); run != "" && nameSafe.MatchString(run) {
		q.Set("name", run)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Tags)) {
		q.Add("tags", k+"="+f.Tags[k])
	}
	var out []providers.Instance
	for {
		var ans detailAnswer
		if _, err := c.call(ctx, opList, http.MethodGet, "/cloudservers/detail", q, nil, false, "servers", &ans); err != nil {
			return nil, err
		}
		for _, s := range ans.Servers {
			inst := normalise(s)
			inst.Tags = providers.UserTags(tagMap(s.Tags))
			if f.Matches(inst) {
				out = append(out, inst)
			}
		}
		if len(ans.Servers) < MaxListLimit {
			return out, nil
		}
		q.Set("marker", ans.Servers[len(ans.Servers)-1].ID)
	}
}
