package ksyun

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/reimage-dev/reimage/providers"
)

// MaxListResults is the page of a listing: DescribeInstances' largest MaxResults.
const MaxListResults = 1000

var _ providers.Lister = (*Client)(nil)

// List pages through DescribeInstances (MaxResults 1000, Marker an offset;
// KEC lists the default project when no ProjectId.N is given, as here), with
// the zone as the availability-zone-name filter, and the name as the
// instance-name filter when it has no wildcard, else its longest literal run
// as Search (fuzzy on name or address: a superset). Every field is then
// checked exactly on the client. DescribeInstances has no tag filter and
// returns no tags: the tags of the instances left come from the tag service,
// ListTagsByResourceIds, MaxTagIDs ids per call. Selecting by tag through
// ListResources (tag filter → ids) could save those calls when few instances
// match, but its answer's shape and filter logic are undocumented.
func (c *Client) List(ctx context.Context, f providers.Filter) ([]providers.Instance, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("ksyun %s: listing instances: %w", c.name, err)
	}
	params := url.Values{"MaxResults": {strconv.Itoa(MaxListResults)}}
	n := 0
	if f.Zone != "" {
		n++
		params.Set("Filter."+strconv.Itoa(n)+".Name", "availability-zone-name")
		params.Set("Filter."+strconv.Itoa(n)+".Value.1", f.Zone)
	}
	switch run, exact := f.NameLiteral(); {
	case exact:
		n++
		params.Set("Filter."+strconv.Itoa(n)+".Name", "instance-name")
		params.Set("Filter."+strconv.Itoa(n)+".Value.1", run)
	case run != "":
		params.Set("Search", run)
	}
	var found []providers.Instance
	for marker := 0; ; {
		params.Set("Marker", strconv.Itoa(marker))
		var ans describeAnswer
		if err := c.call(ctx, http.MethodPost, "DescribeInstances", params, false, "instances", &ans); err != nil {
			return nil, err
		}
		for _, in := range ans.InstancesSet {
			inst := normalise(in)
			// Tags are not known yet: check the rest now, so that only the
			// instances left cost tag calls.
			if (providers.Filter{Name: f.Name, Zone: f.Zone}).Matches(inst) {
				found = append(found, inst)
			}
		}
		marker += len(ans.InstancesSet)
		if len(ans.InstancesSet) < MaxListResults || marker >= ans.InstanceCount {
			break
		}
	}
	ids := make([]string, len(found))
	for i, inst := range found {
		ids[i] = inst.ID
	}
	tags, err := c.tagsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := found[:0]
	for _, inst := range found {
		inst.Tags = providers.UserTags(tags[inst.ID])
		if f.Matches(inst) {
			out = append(out, inst)
		}
	}
	return out, nil
}
