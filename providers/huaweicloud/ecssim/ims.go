package ecssim

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// Huawei's image service (IMS, GET /v2/cloudimages) and key pair service
// (KPS, GET /v3/{project_id}/keypairs/{name}), on the same server as ECS: on
// the real cloud each has its own host; here, as behind a plan's single
// endpoint, the path tells them apart. IMS has no project in its path: the
// project is the signed X-Project-Id header's, which must be one the account
// has.

const (
	opListImages        = "ListImages"
	opListKeypairDetail = "ListKeypairDetail"
)

// parseServiceRoute maps the IMS and KPS paths; ok is false for any other.
func parseServiceRoute(method string, seg []string) (r ecsRoute, ok bool) {
	switch {
	case len(seg) == 2 && seg[0] == "v2" && seg[1] == "cloudimages" && method == http.MethodGet:
		return ecsRoute{op: opListImages}, true
	case len(seg) == 4 && seg[0] == "v3" && seg[2] == "keypairs" && method == http.MethodGet:
		return ecsRoute{op: opListKeypairDetail, project: seg[1], serverID: seg[3]}, true
	}
	return ecsRoute{}, false
}

// imsImage is one image of GET /v2/cloudimages, fields as IMS names them.
type imsImage struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	MinDisk        int    `json:"min_disk"`
	Platform       string `json:"__platform"`
	OSType         string `json:"__os_type"`
	ImageType      string `json:"__imagetype"`
	SupportKVM     string `json:"__support_kvm"`
	VirtualEnvType string `json:"virtual_env_type"`
	Visibility     string `json:"visibility"`
}

// imsList answers GET /v2/cloudimages: filters id, name (exact) and status,
// limit (default 500, up to 1000) and marker (the last id of the previous
// page), in id order.
func (s *frontend) imsList(r *http.Request) (any, *apiError) {
	q := r.URL.Query()
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, ecsErr(http.StatusBadRequest, "IMG.0001", "limit must be an integer from 1 to 1000, got %q", v)
		}
		limit = n
	}
	if id := q.Get("id"); id != "" && !sim.IsUUID(id) {
		return nil, ecsErr(http.StatusBadRequest, "IMG.0001", "id %q is not a UUID", id)
	}
	s.Lock()
	defer s.Unlock()
	out := struct {
		Images []imsImage `json:"images"`
	}{Images: []imsImage{}}
	past := q.Get("marker") == ""
	for _, img := range s.ImagesOf(huaweicloud.Type) {
		if !past {
			past = img.ID == q.Get("marker")
			continue
		}
		if !imsMatches(img, q) {
			continue
		}
		if len(out.Images) == limit {
			break
		}
		out.Images = append(out.Images, imsImage{
			ID: img.ID, Name: img.Name, Status: img.State, MinDisk: img.MinDiskGB, Platform: img.Platform,
			OSType: "Linux", ImageType: "private", SupportKVM: "true", VirtualEnvType: img.EnvType, Visibility: "private",
		})
	}
	return out, nil
}

func imsMatches(img *sim.Image, q url.Values) bool {
	return (q.Get("id") == "" || img.ID == q.Get("id")) &&
		(q.Get("name") == "" || img.Name == q.Get("name")) &&
		(q.Get("status") == "" || img.State == q.Get("status"))
}

// kpsShow answers GET /v3/{project}/keypairs/{name}: 404 when absent.
func (s *frontend) kpsShow(rt ecsRoute) (any, *apiError) {
	name := rt.serverID
	s.Lock()
	defer s.Unlock()
	if !s.keyNames[name] {
		return nil, ecsErr(http.StatusNotFound, "KPS.0002", "The key pair %s does not exist.", name)
	}
	type keypair struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		Scope       string `json:"scope"`
		PublicKey   string `json:"public_key"`
		Fingerprint string `json:"fingerprint"`
		FrozenState int    `json:"frozen_state"`
	}
	return map[string]keypair{"keypair": {Name: name, Type: "ssh", Scope: "user", PublicKey: "ssh-rsa AAAAsim " + name,
		Fingerprint: "SHA256:sim", FrozenState: 0}}, nil
}
