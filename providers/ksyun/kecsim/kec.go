package kecsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/reimage-dev/reimage/providers/ksyun"
	"github.com/reimage-dev/reimage/providers/sim"
)

// KEC API version, the only one the simulator (and the seed) speaks.
const kecVersion = "2016-03-04"

// kecError is KEC's error body.
type kecError struct {
	RequestID string      `json:"RequestId"`
	Error     kecErrorObj `json:"Error"`
}

type kecErrorObj struct {
	Type    string `json:"Type"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// apiError is an error answer in the making: status and cloud code.
type apiError struct {
	status  int
	code    string
	message string
	// retryAfter is the Retry-After header of a 429, in seconds.
	retryAfter int
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func kecErr(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func badParam(format string, args ...any) *apiError {
	return kecErr(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

// serveKEC answers KEC's query API at "/".
func (s *frontend) serveKEC(w http.ResponseWriter, r *http.Request) {
	reqID := s.RequestID()
	asJSON := acceptsJSON(r.Header.Get("Accept"))
	body, err := sim.ReadBody(r)
	op := "InvalidAction"
	status := http.StatusOK
	defer func() {
		if status != sim.AlreadyCounted {
			s.Count(ksyun.Type, op, status, status == http.StatusTooManyRequests)
		}
	}()
	fail := func(e *apiError) {
		status = e.status
		typ := "Sender"
		if e.status >= 500 || e.code == "InternalError" || e.code == "ServiceUnavailable" {
			typ = "Receiver"
		}
		if e.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		writeKEC(w, asJSON, "Error", e.status, kecError{RequestID: reqID, Error: kecErrorObj{Type: typ, Code: e.code, Message: e.message}})
	}
	params, perr := kecParams(r, body)
	op = kecOp(params)
	if retry, ok := s.Throttle(r, ksyun.Type); !ok {
		e := kecErr(http.StatusTooManyRequests, "RequestLimitExceeded", "Request rate limit exceeded; retry later.")
		e.retryAfter = retry
		fail(e)
		return
	}
	if err != nil {
		fail(badParam("cannot read the request body: %v", err))
		return
	}
	if e := s.kecAuth(r, body, kecServiceOf(params).name); e != nil {
		fail(e)
		return
	}
	if perr != nil {
		fail(perr)
		return
	}
	if fail5xx, second := s.ServerError(); fail5xx {
		// -error-rate promises 5xx answers (DESIGN.md), and KEC's seed answers
		// its own server errors with HTTP 400, where only the code tells them
		// from a refusal: both forms, in turn. The 503 is the front door's.
		if second {
			fail(kecErr(http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable; nothing was done."))
		} else {
			fail(kecErr(http.StatusBadRequest, "InternalError", "An internal error occurred; nothing was done."))
		}
		return
	}
	if e := checkCommon(params); e != nil {
		fail(e)
		return
	}
	var resp any
	var e *apiError
	switch op {
	case "DescribeInstances":
		resp, e = s.kecDescribe(params, reqID)
	case "StopInstances":
		resp, e = s.kecPower(params, reqID, true)
	case "StartInstances":
		resp, e = s.kecPower(params, reqID, false)
	case "ModifyInstanceImage":
		resp, e = s.kecModify(params, reqID)
	default:
		var known bool
		if resp, e, known = s.kecFamily(op, params, reqID); known {
			break
		}
		if params.Get("Action") == "" {
			e = kecErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Action.")
		} else {
			e = kecErr(http.StatusBadRequest, "InvalidAction", "The action %q is not valid for this web service.", params.Get("Action"))
		}
	}
	if e != nil {
		fail(e)
		return
	}
	answer := func() { writeKEC(w, asJSON, op+"Response", http.StatusOK, resp) }
	if kind, ids := kecWrite(op, params, resp); kind != "" {
		s.Deliver(w, ksyun.Type, op, kind, ids, answer, &status)
		return
	}
	answer()
	if l, ok := resp.(kecDescribeResponse); ok {
		l.release()
	}
}

// kecWrite names the write a successful answer reports (sim.OpStop, sim.OpStart, sim.OpMark,
// sim.OpChange, sim.OpReinstall) and the instances the cloud acted on; "" for a
// read, or a stop or start that changed nothing.
func kecWrite(op string, params url.Values, resp any) (kind string, ids []string) {
	switch op {
	case "StopInstances", "StartInstances":
		kind = sim.OpStop
		if op == "StartInstances" {
			kind = sim.OpStart
		}
		for _, r := range resp.(kecPowerResponse).InstancesSet {
			if r.Return {
				ids = append(ids, r.InstanceID)
			}
		}
		if len(ids) == 0 {
			return "", nil
		}
		return kind, ids
	case "ModifyInstanceImage":
		if params.Has("ImageId") {
			return sim.OpChange, []string{params.Get("InstanceId")}
		}
		return sim.OpReinstall, []string{params.Get("InstanceId")}
	case "CreateTagAndAttachResource":
		return sim.OpMark, strings.Split(params.Get("ResourceUuid"), ",")
	}
	return "", nil
}

// kecParams merges the query and, for a form POST, the body: KEC takes
// parameters in either, and the official SDK repeats Action and Version in both.
func kecParams(r *http.Request, body []byte) (url.Values, *apiError) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return url.Values{}, badParam("malformed query string: %v", err)
	}
	switch r.Method {
	case http.MethodGet:
		if len(body) > 0 {
			return params, badParam("a GET request carries no body")
		}
	case http.MethodPost:
		if len(body) == 0 {
			break
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return params, kecErr(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
				"a POST body must be application/x-www-form-urlencoded, not %q", r.Header.Get("Content-Type"))
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return params, badParam("malformed form body: %v", err)
		}
		// The body wins where both carry a parameter; the query is the small one.
		for k, v := range params {
			if _, ok := form[k]; !ok {
				form[k] = v
			}
		}
		params = form
	default:
		return params, kecErr(http.StatusMethodNotAllowed, "MethodNotAllowed", "KEC takes GET or POST, not %s", r.Method)
	}
	return params, nil
}

// checkCommon checks the common parameters every action needs.
func checkCommon(p url.Values) *apiError {
	v := p.Get("Version")
	if v == "" {
		return kecErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Version.")
	}
	if e := checkVersion(p); e != nil {
		return e
	}
	if d := p.Get("DryRun"); d != "" && d != "true" && d != "false" {
		return badParam("DryRun must be true or false")
	}
	return nil
}

// dryRun is KEC's answer to DryRun=true once every check passed: 412, nothing done.
func dryRun(p url.Values) *apiError {
	if p.Get("DryRun") == "true" {
		return kecErr(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

// kecAuth verifies the SigV4 signature with the one implementation the client uses.
func (s *frontend) kecAuth(r *http.Request, body []byte, service string) *apiError {
	s.Lock()
	k := s.Config().Keys[ksyun.Type]
	ak, sk := k.AccessKey, k.SecretKey
	now := s.Now()
	s.Unlock()
	_, err := ksyun.VerifyService(r, body, service, func(k string) (string, bool) { return sk, k == ak }, now, sim.MaxSkew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ksyun.ErrMissingAuth):
		return kecErr(http.StatusForbidden, "MissingAuthenticationToken", "%v", err)
	case errors.Is(err, ksyun.ErrClockSkew):
		return kecErr(http.StatusForbidden, "RequestTimeTooSkewed", "%v", err)
	default:
		return kecErr(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided: %v", err)
	}
}

// acceptsJSON: the clouds answer JSON only when Accept asks for it.
func acceptsJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if mt == "application/json" || mt == "application/*+json" {
			return true
		}
	}
	return false
}

// instanceIDs reads InstanceId.N, accepting N from 0 (some SDKs) or 1 (the
// docs) up to 100, in index order. Without any it returns nil.
func instanceIDs(p url.Values) ([]string, *apiError) {
	var byIndex [101]string // InstanceId.N for N = 0..100; map keys are unique
	count := 0
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, "InstanceId.")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > 100 || len(v) != 1 {
			return nil, badParam("parameter %s is not InstanceId.N with N from 1 to 100", k)
		}
		byIndex[n] = v[0]
		count++
	}
	if count > 100 {
		return nil, kecErr(http.StatusBadRequest, "InstanceIdLimitExceeded", "at most 100 InstanceId.N per request, got %d", count)
	}
	if count == 0 {
		return nil, nil
	}
	out := make([]string, 0, count)
	for _, id := range byIndex {
		if id != "" {
			out = append(out, id)
		}
	}
	return out, nil
}

// kecInstance is one InstancesSet entry of DescribeInstances, fields as the reference lists.
type kecInstance struct {
	InstanceID       string           `json:"InstanceId"`
	InstanceName     string           `json:"InstanceName"`
	InstanceType     string           `json:"InstanceType"`
	ImageID          string           `json:"ImageId"`
	InstanceState    kecInstanceState `json:"InstanceState"`
	SystemDisk       kecSystemDisk    `json:"SystemDisk"`
	KeySet           []string         `json:"KeySet"`
	PrivateIPAddress string           `json:"PrivateIpAddress"`
	ChargeType       string           `json:"ChargeType"`
	CreationDate     string           `json:"CreationDate"`
	AvailabilityZone string           `json:"AvailabilityZone"`
	// ProjectID is a number, as the official SDK declares it (*int64).
	ProjectID int64 `json:"ProjectId"`
	// NetworkInterfaceSet holds the primary interface (address.go).
	NetworkInterfaceSet []kecNetworkInterface `json:"NetworkInterfaceSet"`
	// head and tail are the cached JSON of the fixed fields (see appendJSON).
	head, tail string
}

type kecInstanceState struct {
	Name      string `json:"Name"`
	TaskState string `json:"TaskState"`
}

type kecSystemDisk struct {
	DiskType string `json:"DiskType"`
	DiskSize int    `json:"DiskSize"`
}

type kecDescribeResponse struct {
	RequestID     string        `json:"RequestId"`
	Marker        int           `json:"Marker"`
	InstanceCount int           `json:"InstanceCount"`
	InstancesSet  []kecInstance `json:"InstancesSet"`
}

// kecFilter is one Filter.N: Name and its Value.M.
type kecFilter struct {
	name   string
	values map[string]bool
}

var kecFilterNames = map[string]bool{
	"instance-id": true, "image-id": true, "instance-state.name": true, "instance-name": true, "availability-zone-name": true,
}

func kecFilters(p url.Values) ([]kecFilter, *apiError) {
	byN := map[int]*kecFilter{}
	get := func(n int) *kecFilter {
		if byN[n] == nil {
			byN[n] = &kecFilter{values: map[string]bool{}}
		}
		return byN[n]
	}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, "Filter.")
		if !ok {
			continue
		}
		ns, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, badParam("parameter %s is not Filter.N.Name or Filter.N.Value.M", k)
		}
		switch {
		case field == "Name":
			get(n).name = v[0]
		case strings.HasPrefix(field, "Value."):
			if _, err := strconv.Atoi(field[len("Value."):]); err != nil {
				return nil, badParam("parameter %s is not Filter.N.Value.M", k)
			}
			for _, x := range v {
				get(n).values[x] = true
			}
		default:
			return nil, badParam("parameter %s is not Filter.N.Name or Filter.N.Value.M", k)
		}
	}
	var out []kecFilter
	for n, f := range byN {
		if !kecFilterNames[f.name] {
			return nil, badParam("Filter.%d.Name %q is not a known filter", n, f.name)
		}
		if len(f.values) == 0 {
			return nil, kecErr(http.StatusBadRequest, "MissingParameter", "Filter.%d has no Value.M", n)
		}
		out = append(out, *f)
	}
	return out, nil
}

func kecView(in *sim.Inst) kecInstance {
	name, task := kecState(in.State)
	if ext(in).head == "" {
		v := fixedKECView(in)
		ext(in).head, ext(in).tail = string(appendKECHead(nil, &v)), string(appendKECTail(nil, &v))
	}
	v := fixedKECView(in)
	v.ImageID = in.Image
	v.InstanceState = kecInstanceState{Name: name, TaskState: task}
	v.SystemDisk = kecSystemDisk{DiskType: ext(in).diskType, DiskSize: ext(in).diskSize}
	v.KeySet = ext(in).keys
	v.head, v.tail = ext(in).head, ext(in).tail
	return v
}

// fixedKECView fills the fields that never change for an instance.
func fixedKECView(in *sim.Inst) kecInstance {
	return kecInstance{
		InstanceID: in.ID, InstanceName: in.Name, InstanceType: "N3.2B",
		PrivateIPAddress:    privateIP(in),
		ChargeType:          "Daily",
		CreationDate:        in.CreatedStr,
		AvailabilityZone:    in.Zone,
		ProjectID:           ext(in).project,
		NetworkInterfaceSet: kecInterfaces(in),
	}
}

// privateIP is a stable address derived from the instance's position.
func privateIP(in *sim.Inst) string { return in.IP }

func kecMatches(in *sim.Inst, filters []kecFilter, projects map[string]bool, anyProject bool, search string) bool {
	if !anyProject && !projects[in.Project] {
		return false
	}
	if search != "" && !strings.Contains(in.Name, search) && !strings.Contains(privateIP(in), search) {
		return false
	}
	for _, f := range filters {
		var v string
		switch f.name {
		case "instance-id":
			v = in.ID
		case "image-id":
			v = in.Image
		case "instance-state.name":
			v, _ = kecState(in.State)
		case "instance-name":
			v = in.Name
		case "availability-zone-name":
			v = in.Zone
		}
		if !f.values[v] {
			return false
		}
	}
	return true
}

func (s *frontend) kecDescribe(p url.Values, reqID string) (any, *apiError) {
	ids, e := instanceIDs(p)
	if e != nil {
		return nil, e
	}
	filters, e := kecFilters(p)
	if e != nil {
		return nil, e
	}
	maxResults, marker := 10, 0
	if v := p.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return nil, badParam("MaxResults must be an integer from 5 to 1000, got %q", v)
		}
		maxResults = n
	}
	if v := p.Get("Marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badParam("Marker must be a non-negative integer offset, got %q", v)
		}
		marker = n
	}
	// Without ProjectId.N KEC lists the default project only, but a look-up
	// by InstanceId.N finds an instance in any project (the Terraform
	// provider no longer sends ProjectId.N for it).
	projects := map[string]bool{}
	for k, v := range p {
		if strings.HasPrefix(k, "ProjectId.") {
			for _, x := range v {
				projects[x] = true
			}
		}
	}
	anyProject := len(projects) == 0 && ids != nil
	if len(projects) == 0 {
		projects["0"] = true
	}
	if e := dryRun(p); e != nil {
		return nil, e
	}
	search := p.Get("Search")
	resp := kecDescribeResponse{RequestID: reqID, Marker: marker, InstancesSet: (*setPool.Get().(*[]kecInstance))[:0]}
	s.Lock()
	now := s.Now()
	visit := func(in *sim.Inst) {
		in.Settle(now)
		if !kecMatches(in, filters, projects, anyProject, search) {
			return
		}
		if resp.InstanceCount >= marker && len(resp.InstancesSet) < maxResults {
			resp.InstancesSet = append(resp.InstancesSet, kecView(in))
		}
		resp.InstanceCount++
	}
	if ids != nil {
		// A duplicate id is listed once; a stamp per listing finds them
		// without a map per request.
		s.listing++
		s.CountReads(ksyun.Type, len(ids))
		fleet := s.Fleet(ksyun.Type)
		for _, id := range ids {
			if in := fleet[id]; in != nil && in.Listed != s.listing {
				in.Listed = s.listing
				visit(in)
			}
		}
	} else {
		for _, in := range s.Order(ksyun.Type) {
			visit(in)
		}
	}
	s.Unlock()
	return resp, nil
}

// setPool recycles listing slices: a listing of 100 instances is 25 KB that
// would otherwise be garbage after every lookup.
var setPool = sync.Pool{New: func() any { s := make([]kecInstance, 0, 100); return &s }}

// release returns a listing's slice to setPool once it has been written.
func (r kecDescribeResponse) release() {
	set := r.InstancesSet[:0]
	setPool.Put(&set)
}

// kecPowerResult is one entry of StopInstances / StartInstances.
type kecPowerResult struct {
	InstanceID string `json:"InstanceId"`
	Return     bool   `json:"Return"`
	Message    string `json:"Message,omitempty"`
	// Messgae (sic) is StopInstances' spelling of Message, as documented.
	Messgae string `json:"Messgae,omitempty"`
}

type kecPowerResponse struct {
	RequestID    string           `json:"RequestId"`
	InstancesSet []kecPowerResult `json:"InstancesSet"`
}

// kecPower runs StopInstances (stop) or StartInstances: per-id results, so
// one batch can partly fail.
func (s *frontend) kecPower(p url.Values, reqID string, stop bool) (any, *apiError) {
	ids, e := instanceIDs(p)
	if e != nil {
		return nil, e
	}
	if len(ids) == 0 {
		return nil, kecErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId.N.")
	}
	if stop {
		if v := p.Get("ForceStop"); v != "" && v != "true" && v != "false" {
			return nil, badParam("ForceStop must be true or false")
		}
		if v := p.Get("StoppedMode"); v != "" && v != "KeepCharging" && v != "StopCharging" {
			return nil, badParam("StoppedMode must be KeepCharging or StopCharging")
		}
	}
	if e := dryRun(p); e != nil {
		return nil, e
	}
	resp := kecPowerResponse{RequestID: reqID, InstancesSet: make([]kecPowerResult, 0, len(ids))}
	s.Lock()
	defer s.Unlock()
	now := s.Now()
	for _, id := range ids {
		res := kecPowerResult{InstanceID: id}
		in := s.Fleet(ksyun.Type)[id]
		if in != nil {
			in.Settle(now)
		}
		switch {
		case in == nil:
			res.Message = "InstanceNotFound: the instance " + id + " does not exist"
		case stop && (in.State == sim.StateRunning || in.State == sim.StateError):
			s.Run(in, now, []sim.Step{{State: sim.StateStopping, Image: in.Image, Lasts: s.Jittered(s.Config().StopDuration)}}, sim.Outcome{State: sim.StateStopped, Image: in.Image})
			res.Return = true
		case !stop && in.State == sim.StateStopped:
			s.Run(in, now, []sim.Step{{State: sim.StateStarting, Image: in.Image, Lasts: s.Jittered(s.Config().StartDuration)}}, sim.Outcome{State: sim.StateRunning, Image: in.Image})
			res.Return = true
		default:
			name, _ := kecState(in.State)
			want := "active"
			if !stop {
				want = "stopped"
			}
			res.Message = fmt.Sprintf("InstanceStateNotSupported: the instance is %s; this action needs it %s", name, want)
		}
		if stop {
			res.Messgae, res.Message = res.Message, ""
		}
		resp.InstancesSet = append(resp.InstancesSet, res)
	}
	return resp, nil
}

type kecReturnResponse struct {
	RequestID string `json:"RequestId"`
	Return    bool   `json:"Return"`
}

// kecModify is ModifyInstanceImage, with the seed's parameters and checks.
func (s *frontend) kecModify(p url.Values, reqID string) (any, *apiError) {
	id := p.Get("InstanceId")
	if id == "" {
		return nil, kecErr(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId.")
	}
	imageID, reinstall := p.Get("ImageId"), !p.Has("ImageId")
	if !reinstall && !sim.IsUUID(imageID) {
		return nil, kecErr(http.StatusBadRequest, "ImageIdInvalidParameterValue", `An invalid or out-of-range value was supplied for the "ImageId" parameter.`)
	}
	var keys []string
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, "KeyId."); ok {
			if n, err := strconv.Atoi(rest); err != nil || n < 0 {
				return nil, badParam("parameter %s is not KeyId.N", k)
			}
			keys = append(keys, v...)
		}
	}
	if len(keys) > 10 {
		return nil, kecErr(http.StatusBadRequest, "InvalidParameter.InstanceKeyLimitExceeded", "InvalidParameter.InstanceKeyLimitExceeded: at most 10 key pairs per instance, got %d", len(keys))
	}
	for _, k := range keys {
		if !sim.IsUUID(k) {
			return nil, kecErr(http.StatusBadRequest, "KeyIdInvalidParameterValue", `An invalid or out-of-range value was supplied for the "KeyId" parameter.`)
		}
	}
	slices.Sort(keys)
	keep := p.Get("KeepImageLogin")
	if keep != "" && keep != "true" && keep != "false" {
		return nil, badParam("KeepImageLogin must be true or false")
	}
	password, hasPassword := p.Get("InstancePassword"), p.Has("InstancePassword")
	if keep != "true" && hasPassword {
		if err := ksyun.CheckPassword(password); err != nil {
			return nil, kecErr(http.StatusBadRequest, "InstancePasswordInvalidParameterValue", "InstancePassword: %v", err)
		}
	}
	if keep != "true" && !hasPassword && len(keys) == 0 {
		return nil, kecErr(http.StatusBadRequest, "MissingParameter", "One of KeepImageLogin=true, InstancePassword or KeyId.N is required.")
	}
	diskSize := 0
	if v := p.Get("SystemDisk.DiskSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 || n > 500 {
			return nil, kecErr(http.StatusBadRequest, "RootDiskGbInvalidParameterValue", `An invalid or out-of-range value was supplied for the "RootDiskGb" parameter.`)
		}
		diskSize = n
	}
	if v := p.Get("SystemDisk.ResizeType"); v != "" && v != "offline" && v != "online" {
		return nil, badParam("SystemDisk.ResizeType must be offline or online")
	}
	if v := p.Get("UserData"); p.Has("UserData") {
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, badParam("UserData must be base64: %v", err)
		}
		if len(dec) > 16<<10 {
			return nil, badParam("UserData must be at most 16 KiB decoded, got %d bytes", len(dec))
		}
	}
	s.Lock()
	defer s.Unlock()
	in := s.Fleet(ksyun.Type)[id]
	if in == nil {
		return nil, kecErr(http.StatusBadRequest, "InstanceNotFound", "The instance %s does not exist.", id)
	}
	if !reinstall && s.ImageRefusal(ksyun.Type, imageID) != "" {
		return nil, kecErr(http.StatusBadRequest, "ImageIdInvalidParameterValue", `An invalid or out-of-range value was supplied for the "ImageId" parameter.`)
	}
	now := s.Now()
	in.Settle(now)
	if in.State != sim.StateStopped {
		return nil, kecErr(http.StatusBadRequest, "InstanceStateNotSupported", `The InstanceState for this action should be "Stopped"`)
	}
	if e := dryRun(p); e != nil {
		return nil, e
	}
	target := imageID
	if reinstall {
		target = in.Image
	}
	rebuild := s.Jittered(s.Config().RebuildDuration)
	// A reinstall shows as "overriding" (重装中), a change of image as "rebuilding".
	busy := sim.StateRebuilding
	if reinstall {
		busy = sim.StateOverriding
	}
	if s.RebuildFails(id) {
		s.Run(in, now, s.Queue(in, "ModifyInstanceImage", []sim.Step{{State: busy, Image: in.Image, Lasts: rebuild}}), sim.Outcome{State: sim.StateError, Image: in.Image, Fault: "rebuild failed", ChangeFailed: true})
	} else {
		s.Run(in, now, s.Queue(in, "ModifyInstanceImage", []sim.Step{
			{State: busy, Image: in.Image, Lasts: rebuild, Count: true},
			{State: sim.StateStarting, Image: target, Lasts: s.Jittered(s.Config().StartDuration)},
		}), sim.Outcome{
			State: sim.StateRunning, Image: target,
			Then: installed(keys, p.Get("SystemDisk.DiskType"), diskSize),
		})
	}
	return kecReturnResponse{RequestID: reqID, Return: true}, nil
}

// writeKEC writes v as JSON, or as XML under root when the client did not ask
// for JSON (what KEC does).
func writeKEC(w http.ResponseWriter, asJSON bool, root string, status int, v any) {
	var b []byte
	var err error
	if a, ok := v.(jsonAppender); ok {
		// The hot path (listings) skips reflection and json.Marshal's re-validation.
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		b = a.appendJSON((*bp)[:0])
		*bp = b
	} else if b, err = json.Marshal(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		b = jsonToXML(root, b)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// jsonToXML renders a JSON document as XML: an element per object field,
// arrays as repeated <item> elements, in the JSON's order.
func jsonToXML(root string, js []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var b bytes.Buffer
	b.WriteString(xml.Header)
	var walk func(name string)
	walk = func(name string) {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		b.WriteString("<" + name + ">")
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' {
				for dec.More() {
					k, _ := dec.Token()
					ks, _ := k.(string)
					walk(ks)
				}
			} else {
				for dec.More() {
					walk("item")
				}
			}
			dec.Token() // the closing delimiter
		case nil:
		default:
			xml.EscapeText(&b, []byte(fmt.Sprint(t)))
		}
		b.WriteString("</" + name + ">")
	}
	walk(root)
	return b.Bytes()
}

// installed is what a successful ModifyInstanceImage leaves on the instance
// besides its image: the key pairs it named (if any) and the system disk's
// new type and size (if given).
func installed(keys []string, diskType string, diskSize int) func(*sim.Inst) {
	return func(in *sim.Inst) {
		a := ext(in)
		if len(keys) > 0 {
			a.keys = keys
		}
		if diskType != "" {
			a.diskType = diskType
		}
		if diskSize > 0 {
			a.diskSize = diskSize
		}
	}
}
