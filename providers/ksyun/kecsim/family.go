package kecsim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// The KEC family on one endpoint: KEC itself, its tag service (tagv2) and the
// key service (SKS). On the real cloud each has its own host; here, as behind
// a plan's single endpoint, a request's Version says which service it is for,
// the Action must be one of that service's, and the SigV4 credential scope
// must name that service.

// kecService is one service of the family.
type kecService struct {
	name, version string
	actions       map[string]bool
}

var kecServices = []kecService{
	{name: "kec", version: kecVersion, actions: map[string]bool{
		"DescribeInstances": true, "StopInstances": true, "StartInstances": true, "ModifyInstanceImage": true,
		"DescribeImages": true,
	}},
	{name: "tagv2", version: "2020-09-01", actions: map[string]bool{
		"ListTagsByResourceIds": true, "CreateTagAndAttachResource": true, "DetachResourceTags": true,
	}},
	{name: "sks", version: "2015-11-01", actions: map[string]bool{"DescribeKeys": true}},
}

// kecServiceOf returns the service whose version the request names; KEC's
// own when the version is unknown (checkCommon then refuses it).
func kecServiceOf(p url.Values) kecService {
	for _, svc := range kecServices {
		if svc.version == p.Get("Version") {
			return svc
		}
	}
	return kecServices[0]
}

// kecOp is the stats name of a request: its Action when any service of the
// family has it, else "InvalidAction".
func kecOp(p url.Values) string {
	a := p.Get("Action")
	for _, svc := range kecServices {
		if svc.actions[a] {
			return a
		}
	}
	return "InvalidAction"
}

// checkVersion checks Version and that the Action belongs to its service.
func checkVersion(p url.Values) *apiError {
	v := p.Get("Version")
	known := false
	for _, svc := range kecServices {
		known = known || svc.version == v
	}
	if !known {
		return badParam("Version %q is not supported; use %s (KEC), 2020-09-01 (tagv2) or 2015-11-01 (sks)", v, kecVersion)
	}
	svc := kecServiceOf(p)
	if a := p.Get("Action"); kecOp(p) != "InvalidAction" && !svc.actions[a] {
		return kecErr(http.StatusBadRequest, "InvalidAction", "The action %q is not an action of %s version %s.", a, svc.name, svc.version)
	}
	return nil
}

// kecFamily runs the actions added for pre-flight, selection and markers;
// ok is false for an action it does not know.
func (s *frontend) kecFamily(op string, p url.Values, reqID string) (resp any, e *apiError, ok bool) {
	switch op {
	case "DescribeImages":
		resp, e = s.kecDescribeImages(p, reqID)
	case "ListTagsByResourceIds":
		resp, e = s.tagList(p, reqID)
	case "CreateTagAndAttachResource":
		resp, e = s.tagAttach(p, reqID)
	case "DetachResourceTags":
		resp, e = s.tagDetach(p, reqID)
	case "DescribeKeys":
		resp, e = s.sksDescribeKeys(p, reqID)
	default:
		return nil, nil, false
	}
	return resp, e, true
}

// kecImage is one ImagesSet entry of DescribeImages.
type kecImage struct {
	ImageID          string `json:"ImageId"`
	Name             string `json:"Name"`
	ImageState       string `json:"ImageState"`
	Platform         string `json:"Platform"`
	ImageSource      string `json:"ImageSource"`
	IsNpe            bool   `json:"IsNpe"`
	SysDisk          int    `json:"SysDisk"`
	CloudInitSupport bool   `json:"CloudInitSupport"`
	CreationDate     string `json:"CreationDate"`
}

type kecImagesResponse struct {
	RequestID string     `json:"RequestId"`
	ImagesSet []kecImage `json:"ImagesSet"`
}

// kecDescribeImages answers DescribeImages: one ImageId or every image, no paging.
func (s *frontend) kecDescribeImages(p url.Values, reqID string) (any, *apiError) {
	id := p.Get("ImageId")
	if p.Has("ImageId") && !sim.IsUUID(id) {
		return nil, kecErr(http.StatusBadRequest, "ImageIdInvalidParameterValue", `An invalid or out-of-range value was supplied for the "ImageId" parameter.`)
	}
	if t := p.Get("ImageType"); t != "" && t != "system" && t != "private" && t != "share" && t != "public" {
		return nil, badParam("ImageType %q is not known", t)
	}
	if e := dryRun(p); e != nil {
		return nil, e
	}
	s.Lock()
	defer s.Unlock()
	resp := kecImagesResponse{RequestID: reqID, ImagesSet: []kecImage{}}
	for _, img := range s.ImagesOf(ksyun.Type) {
		if id != "" && img.ID != id {
			continue
		}
		resp.ImagesSet = append(resp.ImagesSet, kecImage{
			ImageID: img.ID, Name: img.Name, ImageState: img.State, Platform: img.Platform,
			ImageSource: "system", SysDisk: img.MinDiskGB, CloudInitSupport: true,
			CreationDate: "2024-01-01T00:00:00Z",
		})
	}
	return resp, nil
}

// tagResource reads ResourceType (which must be "instance") and the ids.
func tagResource(p url.Values, idsParam string) ([]string, *apiError) {
	if rt := p.Get("ResourceType"); rt != "instance" {
		return nil, badParam("ResourceType %q is not supported; this simulator tags KEC instances (instance)", rt)
	}
	raw := p.Get(idsParam)
	if raw == "" {
		return nil, kecErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s.", idsParam)
	}
	return strings.Split(raw, ","), nil
}

type kecTag struct {
	ResourceUUID string `json:"ResourceUuid"`
	TagID        int64  `json:"TagId"`
	TagKey       string `json:"TagKey"`
	TagValue     string `json:"TagValue"`
}

type tagListResponse struct {
	RequestID string   `json:"RequestId"`
	Tags      []kecTag `json:"Tags"`
}

// tagList is ListTagsByResourceIds: the tags of each known instance, by id
// order then key; unknown ids have none.
func (s *frontend) tagList(p url.Values, reqID string) (any, *apiError) {
	ids, e := tagResource(p, "ResourceUuids")
	if e != nil {
		return nil, e
	}
	s.Lock()
	defer s.Unlock()
	resp := tagListResponse{RequestID: reqID, Tags: []kecTag{}}
	for _, id := range ids {
		in := s.Fleet(ksyun.Type)[id]
		if in == nil {
			continue
		}
		keys := make([]string, 0, len(in.Tags))
		for k := range in.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			resp.Tags = append(resp.Tags, kecTag{ResourceUUID: id, TagID: tagID(k, in.Tags[k]), TagKey: k, TagValue: in.Tags[k]})
		}
	}
	return resp, nil
}

type resultResponse struct {
	RequestID string `json:"RequestId"`
	Result    bool   `json:"Result"`
}

// tagAttach is CreateTagAndAttachResource: the key gets the value on the
// instance, its other tags stay (an assumption: the reference is silent).
func (s *frontend) tagAttach(p url.Values, reqID string) (any, *apiError) {
	ids, e := tagResource(p, "ResourceUuid")
	if e != nil {
		return nil, e
	}
	key, value := p.Get("TagKey"), p.Get("TagValue")
	if e := checkKECTag(key, value); e != nil {
		return nil, e
	}
	s.Lock()
	defer s.Unlock()
	for _, id := range ids {
		if s.Fleet(ksyun.Type)[id] == nil {
			return nil, kecErr(http.StatusBadRequest, "ResourceNotFound", "The resource %s does not exist.", id)
		}
	}
	for _, id := range ids {
		in := s.Fleet(ksyun.Type)[id]
		if in.Tags == nil {
			in.Tags = map[string]string{}
		}
		in.Tags[key] = value
	}
	return resultResponse{RequestID: reqID, Result: true}, nil
}

// tagDetach is DetachResourceTags: TagKeys (comma-separated) leave the instance.
func (s *frontend) tagDetach(p url.Values, reqID string) (any, *apiError) {
	ids, e := tagResource(p, "ResourceUuids")
	if e != nil {
		return nil, e
	}
	keys := strings.Split(p.Get("TagKeys"), ",")
	s.Lock()
	defer s.Unlock()
	for _, id := range ids {
		if in := s.Fleet(ksyun.Type)[id]; in != nil {
			for _, k := range keys {
				delete(in.Tags, k)
			}
		}
	}
	return resultResponse{RequestID: reqID, Result: true}, nil
}

// checkKECTag applies the tag service's limits (Kingsoft's Python SDK): key
// up to 128, value up to 256 characters of letters, digits and + - = . _ : / @
// (values also ( ) { }); no "ksc" prefix; "," separates values.
func checkKECTag(key, value string) *apiError {
	ok := func(s string, extra string) bool {
		for _, c := range s {
			if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("+-=._:/@"+extra, c) {
				return false
			}
		}
		return true
	}
	switch {
	case key == "" || len([]rune(key)) > 128 || !ok(key, ""):
		return badParam("TagKey must be 1 to 128 letters, digits or + - = . _ : / @")
	case strings.HasPrefix(strings.ToLower(key), "ksc"):
		return badParam("TagKey may not start with ksc")
	case len([]rune(value)) > 256 || !ok(value, "(){}"):
		return badParam("TagValue must be up to 256 letters, digits or + - = . _ : / @ ( ) { }")
	}
	return nil
}

type sksKey struct {
	KeyID      string `json:"KeyId"`
	KeyName    string `json:"KeyName"`
	PublicKey  string `json:"PublicKey"`
	CreateTime string `json:"CreateTime"`
	ProjectID  string `json:"ProjectId"`
}

type sksKeysResponse struct {
	RequestID  string   `json:"RequestId"`
	KeySet     []sksKey `json:"KeySet"`
	TotalCount int      `json:"TotalCount"`
}

// sksDescribeKeys is SKS DescribeKeys: KeyId.N (unknown ids are left out),
// or every key; no paging beyond MaxResults (up to 1000).
func (s *frontend) sksDescribeKeys(p url.Values, reqID string) (any, *apiError) {
	want := map[string]bool{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, "KeyId."); ok {
			if n, err := strconv.Atoi(rest); err != nil || n < 1 {
				return nil, badParam("parameter %s is not KeyId.N", k)
			}
			for _, id := range v {
				want[id] = true
			}
		}
	}
	if len(want) > 100 {
		return nil, badParam("at most 100 KeyId.N per request, got %d", len(want))
	}
	s.Lock()
	defer s.Unlock()
	resp := sksKeysResponse{RequestID: reqID, KeySet: []sksKey{}}
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if len(want) > 0 && !want[id] {
			continue
		}
		resp.KeySet = append(resp.KeySet, sksKey{KeyID: id, KeyName: s.keys[id], PublicKey: "ssh-rsa AAAAsim " + s.keys[id],
			CreateTime: "2024-01-01 00:00:00", ProjectID: "0"})
	}
	resp.TotalCount = len(resp.KeySet)
	return resp, nil
}
