package huaweicloud

import (
	"encoding/json"
	"slices"
	"strings"
)

// addressJSON is one address of a server's addresses map (by network).
type addressJSON struct {
	Addr string `json:"addr"`
	// Version is "4" in Huawei's answers and 4 in OpenStack's: both are read.
	Version json.RawMessage `json:"version"`
	Type    string          `json:"OS-EXT-IPS:type"`
	Primary *bool           `json:"primary"`
}

func (a addressJSON) isFixedV4() bool {
	v := strings.Trim(string(a.Version), `"`)
	return v == "4" && (a.Type == "fixed" || a.Type == "")
}

// privateIP is the server's primary private IPv4 address, by the rule of
// Huawei's Terraform provider: in the network named by metadata vpc_id, the
// fixed v4 address marked primary; the documentation's examples lack
// "primary", so then the first fixed v4 address of that network, then of any
// network (in name order, so that the answer does not depend on map order).
func (s serverJSON) privateIP() string {
	nets := make([]string, 0, len(s.Addresses))
	if vpc := s.Metadata["vpc_id"]; vpc != "" && s.Addresses[vpc] != nil {
		nets = append(nets, vpc)
	}
	rest := make([]string, 0, len(s.Addresses))
	for n := range s.Addresses {
		if n != s.Metadata["vpc_id"] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	nets = append(nets, rest...)
	for _, n := range nets {
		for _, a := range s.Addresses[n] {
			if a.isFixedV4() && a.Primary != nil && *a.Primary {
				return a.Addr
			}
		}
	}
	for _, n := range nets {
		for _, a := range s.Addresses[n] {
			if a.isFixedV4() {
				return a.Addr
			}
		}
	}
	return ""
}

// tagMap splits ECS's "key=value" tag strings at the first "=" (a tag without
// one has an empty value).
func tagMap(tags []string) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		out[k] = v
	}
	return out
}
