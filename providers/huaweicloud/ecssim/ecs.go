package ecssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reimage-dev/reimage/providers/huaweicloud"
	"github.com/reimage-dev/reimage/providers/sim"
)

// ECS operation names, as the official SDK names them; they key the stats.
const (
	opListServers = "ListServersDetails"
	opShowServer  = "ShowServer"
	opChangeOS    = "ChangeServerOsWithoutCloudInit"
	opReinstallOS = "ReinstallServerWithoutCloudInit"
	opBatchStop   = "BatchStopServers"
	opBatchStart  = "BatchStartServers"
	opShowJob     = "ShowJob"
	opBatchAction = "BatchServerAction" // cloudservers/action naming neither os-stop nor os-start
	opUnknown     = "Unknown"
)

// jobTTL is how long a finished job can be read: Huawei drops them after a day.
const jobTTL = 24 * time.Hour

// job is an ECS asynchronous job. Its status is derived from timestamps like
// the instances': INIT, RUNNING until end, then SUCCESS or FAIL.
type job struct {
	id, typ    string
	project    string
	serverID   string // single-server jobs
	begin, end time.Time
	fail       bool
	// pendingPayment: the change of a prepaid server waits for its order
	// to be paid, and nothing happens meanwhile.
	pendingPayment bool
	errorCode      string
	failReason     string
	subs           []*job // batch jobs: one per server
}

// ecsTime is the layout of job times, in UTC, e.g. 2016-04-25T20:04:47.591Z.
const ecsTime = "2006-01-02T15:04:05.000Z"

func (j *job) status(now time.Time) string {
	switch {
	case j.pendingPayment:
		return "PENDING_PAYMENT"
	case !now.Before(j.end):
		if j.fail {
			return "FAIL"
		}
		return "SUCCESS"
	// A job is INIT for its first second (or tenth, when shorter), then RUNNING.
	case now.Sub(j.begin) < min(time.Second, j.end.Sub(j.begin)/10):
		return "INIT"
	default:
		return "RUNNING"
	}
}

// jobView is the JSON of GET /v1/{project_id}/jobs/{job_id} (and of a sub-job).
type jobView struct {
	JobID     string      `json:"job_id"`
	JobType   string      `json:"job_type"`
	Status    string      `json:"status"`
	Entities  jobEntities `json:"entities"`
	BeginTime string      `json:"begin_time"`
	EndTime   *string     `json:"end_time"`
	// ErrorCode and FailReason are null unless the job failed.
	ErrorCode  *string `json:"error_code"`
	FailReason *string `json:"fail_reason"`
}

type jobEntities struct {
	ServerID string `json:"server_id,omitempty"`
	// ErrorcodeMessage is a failed job's detail, as ECS puts it in entities.
	ErrorcodeMessage string    `json:"errorcode_message,omitempty"`
	SubJobsTotal     *int      `json:"sub_jobs_total,omitempty"`
	SubJobs          []jobView `json:"sub_jobs,omitempty"`
}

func (j *job) view(now time.Time) jobView {
	v := jobView{
		JobID: j.id, JobType: j.typ, Status: j.status(now),
		Entities:  jobEntities{ServerID: j.serverID},
		BeginTime: j.begin.UTC().Format(ecsTime),
	}
	if v.Status == "SUCCESS" || v.Status == "FAIL" {
		end := j.end.UTC().Format(ecsTime)
		v.EndTime = &end
		if j.fail {
			code, reason := j.errorCode, j.failReason
			v.ErrorCode, v.FailReason = &code, &reason
			if j.serverID != "" && j.subs == nil {
				v.Entities.ErrorcodeMessage = reason
			}
		}
	}
	if j.subs != nil {
		n := len(j.subs)
		v.Entities.SubJobsTotal = &n
		v.Entities.SubJobs = make([]jobView, 0, n)
		for _, sj := range j.subs {
			v.Entities.SubJobs = append(v.Entities.SubJobs, sj.view(now))
		}
	}
	return v
}

// newJobID returns a seed-determined job id in Huawei's 32-hex form; s.mu must be held.
func (s *frontend) newJobID() string { return s.RandomHex(16) }

// addJob records j; s.mu must be held. Every 1024 jobs, jobs finished more
// than jobTTL ago are dropped, as Huawei does, so a long rehearsal does not
// grow without bound.
func (s *frontend) addJob(j *job) {
	s.jobs[j.id] = j
	if len(s.jobs)%1024 == 0 {
		now := s.Now()
		for id, old := range s.jobs {
			if now.Sub(old.end) > jobTTL {
				delete(s.jobs, id)
			}
		}
	}
}

// ecsErrorBody is ECS's error shape.
type ecsErrorBody struct {
	Error ecsErrorObj `json:"error"`
}

type ecsErrorObj struct {
	Code    string      `json:"code"`
	Message string      `json:"message"`
	Details []ecsDetail `json:"details,omitempty"`
}

type ecsDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// gatewayError is the API gateway's shape (auth, throttling, unknown API).
type gatewayError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

func ecsErr(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func ecsBad(format string, args ...any) *apiError {
	return ecsErr(http.StatusBadRequest, "Ecs.0005", format, args...)
}

// ecsRoute is a parsed ECS path.
type ecsRoute struct {
	op       string
	project  string
	serverID string
	jobID    string
}

// parseECSRoute maps method and path to an operation; op is opUnknown when
// no API matches (the gateway's APIGW.0101).
func parseECSRoute(method, path string, body []byte) ecsRoute {
	seg := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/"), "/")
	if r, ok := parseServiceRoute(method, seg); ok {
		return r
	}
	r := ecsRoute{op: opUnknown}
	if len(seg) < 3 || seg[0] != "v1" {
		return r
	}
	r.project = seg[1]
	switch {
	case len(seg) == 4 && seg[2] == "jobs" && method == http.MethodGet:
		r.op, r.jobID = opShowJob, seg[3]
	case len(seg) == 4 && seg[2] == "cloudservers" && seg[3] == "detail" && method == http.MethodGet:
		r.op = opListServers
	case len(seg) == 4 && seg[2] == "cloudservers" && seg[3] == "action" && method == http.MethodPost:
		r.op = opBatchAction
		var probe map[string]json.RawMessage
		if json.Unmarshal(body, &probe) == nil {
			if _, ok := probe["os-stop"]; ok {
				r.op = opBatchStop
			} else if _, ok := probe["os-start"]; ok {
				r.op = opBatchStart
			}
		}
	case len(seg) == 4 && seg[2] == "cloudservers" && method == http.MethodGet:
		r.op, r.serverID = opShowServer, seg[3]
	case len(seg) == 5 && seg[2] == "cloudservers" && seg[4] == "changeos" && method == http.MethodPost:
		r.op, r.serverID = opChangeOS, seg[3]
	case len(seg) == 5 && seg[2] == "cloudservers" && seg[4] == "reinstallos" && method == http.MethodPost:
		r.op, r.serverID = opReinstallOS, seg[3]
	case len(seg) == 5 && seg[2] == "cloudservers" && seg[4] == "metadata" && method == http.MethodPost:
		r.op, r.serverID = opUpdateMetadata, seg[3]
	}
	return r
}

// serveECS answers the ECS API under "/v1/".
func (s *frontend) serveECS(w http.ResponseWriter, r *http.Request) {
	reqID := s.RequestID()
	w.Header().Set("X-Request-Id", reqID)
	body, readErr := sim.ReadBody(r)
	route := parseECSRoute(r.Method, r.URL.Path, body)
	if route.op == opListImages {
		// IMS has no project in its path: the signed header names it.
		route.project = r.Header.Get("X-Project-Id")
	}
	status := http.StatusOK
	defer func() {
		if status != sim.AlreadyCounted {
			s.Count(huaweicloud.Type, route.op, status, status == http.StatusTooManyRequests)
		}
	}()
	gateway := func(st int, code, msg string) {
		status = st
		sim.WriteJSON(w, st, gatewayError{ErrorCode: code, ErrorMsg: msg, RequestID: reqID})
	}
	fail := func(e *apiError) {
		status = e.status
		sim.WriteJSON(w, e.status, ecsErrorBody{Error: ecsErrorObj{Code: e.code, Message: e.message}})
	}
	if retry, ok := s.Throttle(r, huaweicloud.Type); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		gateway(http.StatusTooManyRequests, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit")
		return
	}
	if route.op == opUnknown {
		gateway(http.StatusNotFound, "APIGW.0101", fmt.Sprintf("The API does not exist or has not been published in the environment: %s %s", r.Method, r.URL.Path))
		return
	}
	if readErr != nil {
		fail(ecsBad("cannot read the request body: %v", readErr))
		return
	}
	if code, msg := s.ecsAuth(r, body, route.project); code != "" {
		gateway(http.StatusUnauthorized, code, msg)
		return
	}
	if fail5xx, second := s.ServerError(); fail5xx {
		// Ecs.0002 "failed to submit the task" is a 400 (the API reference's
		// error codes); the gateway's own failure stays a 500.
		if second {
			fail(ecsErr(http.StatusBadRequest, "Ecs.0002", "Failed to submit the task; nothing was done. Try again later."))
		} else {
			fail(ecsErr(http.StatusInternalServerError, "Ecs.0002", "Submission failed; nothing was done. Try again later."))
		}
		return
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			fail(ecsBad("Content-Type must be application/json, not %q", r.Header.Get("Content-Type")))
			return
		}
	}
	var resp any
	var e *apiError
	switch route.op {
	case opListServers:
		resp, e = s.ecsList(r, route.project)
	case opShowServer:
		resp, e = s.ecsShow(route)
	case opChangeOS, opReinstallOS:
		resp, e = s.ecsChangeOS(route, body)
	case opBatchStop, opBatchStart, opBatchAction:
		resp, e = s.ecsBatch(route, body)
	case opShowJob:
		resp, e = s.ecsJob(route)
	case opUpdateMetadata:
		resp, e = s.ecsUpdateMetadata(route, body)
	case opListImages:
		resp, e = s.imsList(r)
	case opListKeypairDetail:
		resp, e = s.kpsShow(route)
	}
	if e != nil {
		fail(e)
		return
	}
	answer := func() { sim.WriteJSON(w, http.StatusOK, resp) }
	if kind, ids := ecsWrite(route, body); kind != "" {
		s.Deliver(w, huaweicloud.Type, route.op, kind, ids, answer, &status)
		return
	}
	answer()
}

// ecsWrite names the write an accepted request is (sim.OpStop, sim.OpStart,
// sim.OpChange, sim.OpReinstall) and the servers it names; "" for a read.
func ecsWrite(rt ecsRoute, body []byte) (kind string, ids []string) {
	switch rt.op {
	case opChangeOS:
		return sim.OpChange, []string{rt.serverID}
	case opReinstallOS:
		return sim.OpReinstall, []string{rt.serverID}
	case opUpdateMetadata:
		return sim.OpMark, []string{rt.serverID}
	case opBatchStop, opBatchStart:
		var b batchBody
		if decodeStrict(body, &b) != nil {
			return "", nil
		}
		kind, a := sim.OpStop, b.Stop
		if rt.op == opBatchStart {
			kind, a = sim.OpStart, b.Start
		}
		for _, srv := range a.Servers {
			ids = append(ids, srv.ID)
		}
		return kind, ids
	}
	return "", nil
}

// ecsAuth verifies SDK-HMAC-SHA256 with the one implementation the client
// uses, then the project: X-Project-Id must name the path's project, and the
// project must be one the simulator knows. It returns a gateway code or "".
func (s *frontend) ecsAuth(r *http.Request, body []byte, project string) (code, msg string) {
	s.Lock()
	k := s.Config().Keys[huaweicloud.Type]
	ak, sk := k.AccessKey, k.SecretKey
	now := s.Now()
	known := s.KnownProject(project)
	s.Unlock()
	_, err := huaweicloud.Verify(r, body, func(k string) (string, bool) { return sk, k == ak }, now, sim.MaxSkew)
	switch {
	case errors.Is(err, huaweicloud.ErrClockSkew):
		// AK/SK authentication answers a too old (or too new) signature with
		// APIGW.0301 "signature expired"; APIGW.0303 is app authentication's.
		return "APIGW.0301", "Incorrect IAM authentication information: signature expired: " + err.Error()
	case err != nil:
		return "APIGW.0301", "Incorrect IAM authentication information: " + err.Error()
	}
	if h := r.Header.Get("X-Project-Id"); h != project {
		return "APIGW.0301", fmt.Sprintf("Incorrect IAM authentication information: X-Project-Id %q does not match the project %q of the path", h, project)
	}
	if !known {
		return "APIGW.0301", fmt.Sprintf("Incorrect IAM authentication information: project %q does not belong to this account", project)
	}
	return "", ""
}

// ecsServer is one server as ECS shows it, fields as the reference lists.
type ecsServer struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Status    string       `json:"status"`
	Image     ecsImageRef  `json:"image"`
	Metadata  ecsMetadata  `json:"metadata"`
	TaskState *string      `json:"OS-EXT-STS:task_state"`
	VMState   string       `json:"OS-EXT-STS:vm_state"`
	Fault     *ecsFault    `json:"fault"`
	Locked    bool         `json:"locked"`
	Updated   string       `json:"updated"`
	Created   string       `json:"created"`
	TenantID  string       `json:"tenant_id"`
	AZ        string       `json:"OS-EXT-AZ:availability_zone"`
	Addresses ecsAddresses `json:"addresses"`
	Tags      []string     `json:"tags"`
}

type ecsImageRef struct {
	ID string `json:"id"`
}

type ecsMetadata struct {
	ImageName      string `json:"image_name"`
	MeteringImage  string `json:"metering.image_id"`
	OSType         string `json:"os_type"`
	ChargingMode   string `json:"charging_mode"`
	MeteringImType string `json:"metering.imagetype"`
	VpcID          string `json:"vpc_id"`
	// user is the metadata users set (ecsmeta.go's MarshalJSON adds it).
	user map[string]string
}

type ecsAddresses map[string][]ecsAddress

type ecsFault struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
	Created string `json:"created"`
}

// chargingMode is metadata.charging_mode: "0" pay-per-use, "1" yearly/monthly.
func chargingMode(in *sim.Inst) string {
	if in.Prepaid {
		return "1"
	}
	return "0"
}

// ecsState is the server's status, task state and vm state as ECS shows
// them: status UNKNOWN (no task) when the cloud does not know its state.
func ecsState(in *sim.Inst) (status, task, vm string) {
	status, task, vm = ecsStatus(in.State)
	if in.Unknown {
		return "UNKNOWN", "", vm
	}
	return status, task, vm
}

// ecsRefusal is the error of an operation on a locked server or one whose
// state ECS does not know, nil for any other. ECS runs on Nova, which answers
// an operation on a locked server 409; the reference gives its code, Ecs.0605.
func ecsRefusal(in *sim.Inst) *apiError {
	switch {
	case in.Locked:
		return ecsErr(http.StatusConflict, "Ecs.0605", "The ECS %s is locked.", in.ID)
	case in.Unknown:
		return ecsErr(http.StatusBadRequest, "Ecs.0100", "The ECS status does not allow this operation: status UNKNOWN.")
	}
	return nil
}

// ecsMissing is what the detail listing shows for an unknown server_id.
type ecsMissing struct {
	ID    string   `json:"id"`
	Fault ecsFault `json:"fault"`
}

func ecsView(in *sim.Inst) ecsServer {
	status, task, vm := ecsState(in)
	v := ecsServer{
		ID: in.ID, Name: in.Name, Status: status, Image: ecsImageRef{ID: in.Image},
		Metadata: ecsMetadata{
			ImageName: "image-" + in.Image[:min(8, len(in.Image))], MeteringImage: in.Image,
			OSType: "Linux", ChargingMode: chargingMode(in), MeteringImType: "private",
			VpcID: simVPC, user: in.Meta,
		},
		VMState:   vm,
		Updated:   in.Updated.UTC().Format(time.RFC3339),
		Created:   in.Created.UTC().Format(time.RFC3339),
		TenantID:  in.Project,
		AZ:        in.Zone,
		Addresses: addressesOf(in),
		Tags:      ecsTags(in),
		Locked:    in.Locked,
	}
	if task != "" {
		v.TaskState = &task
	}
	if in.State == sim.StateError {
		v.Fault = &ecsFault{Code: 500, Message: in.Fault, Details: in.Fault, Created: in.Updated.UTC().Format(time.RFC3339)}
	}
	return v
}

type ecsListResponse struct {
	Count   int   `json:"count"`
	Servers []any `json:"servers"`
}

func (s *frontend) ecsList(r *http.Request, project string) (any, *apiError) {
	q := r.URL.Query()
	limit, page := 25, 1
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, ecsBad("limit must be an integer from 1 to 1000, got %q", v)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, ecsBad("offset must be a page number, got %q", v)
		}
		page = max(n, 1) // offset counts pages from 1; 0 is read as 1
	}
	resp := ecsListResponse{Servers: []any{}}
	s.Lock()
	defer s.Unlock()
	now := s.Now()
	if v := q.Get("server_id"); v != "" {
		// server_id overrides every other filter and paging.
		ids := strings.Split(v, ",")
		if len(ids) > 100 {
			return nil, ecsBad("server_id takes at most 100 ids, got %d", len(ids))
		}
		s.CountReads(huaweicloud.Type, len(ids))
		for _, id := range ids {
			in := s.Fleet(huaweicloud.Type)[id]
			if in == nil || in.Project != project {
				resp.Servers = append(resp.Servers, ecsMissing{ID: id, Fault: ecsFault{
					Code: 404, Message: "Instance " + id + " could not be found.", Details: "",
					Created: now.UTC().Format(time.RFC3339),
				}})
				continue
			}
			in.Settle(now)
			resp.Servers = append(resp.Servers, ecsView(in))
		}
		resp.Count = len(resp.Servers)
		return resp, nil
	}
	filter := newECSListFilter(q)
	skip := (page - 1) * limit
	// marker (the last id of the previous page) wins over offset.
	marker := q.Get("marker")
	if marker != "" {
		skip = 0
	}
	past := marker == ""
	for _, in := range s.Order(huaweicloud.Type) {
		if in.Project != project {
			continue
		}
		in.Settle(now)
		if !filter.matches(in) {
			continue
		}
		if past && resp.Count >= skip && len(resp.Servers) < limit {
			resp.Servers = append(resp.Servers, ecsView(in))
		}
		past = past || in.ID == marker
		resp.Count++
	}
	return resp, nil
}

func (s *frontend) ecsShow(rt ecsRoute) (any, *apiError) {
	s.Lock()
	defer s.Unlock()
	in, e := s.ecsServerByID(rt)
	if e != nil {
		return nil, e
	}
	return map[string]ecsServer{"server": ecsView(in)}, nil
}

// ecsServerByID finds and settles a server of the route's project; s.mu must be held.
func (s *frontend) ecsServerByID(rt ecsRoute) (*sim.Inst, *apiError) {
	in := s.Fleet(huaweicloud.Type)[rt.serverID]
	if in == nil || in.Project != rt.project {
		return nil, ecsErr(http.StatusNotFound, "Ecs.0114", "The ECS %s does not exist.", rt.serverID)
	}
	in.Settle(s.Now())
	return in, nil
}

// osChange is the body of changeos ("os-change") and reinstallos ("os-reinstall").
type osChange struct {
	AdminPass string       `json:"adminpass,omitempty"`
	KeyName   string       `json:"keyname,omitempty"`
	UserID    string       `json:"userid,omitempty"`
	ImageID   *string      `json:"imageid,omitempty"`
	Mode      string       `json:"mode,omitempty"`
	IsAutoPay string       `json:"isAutoPay,omitempty"`
	Metadata  *osChangeMet `json:"metadata,omitempty"`
}

type osChangeMet struct {
	BYOL      *string `json:"BYOL,omitempty"`
	Encrypted *string `json:"__system__encrypted,omitempty"`
	CMKID     *string `json:"__system__cmkid,omitempty"`
}

type jobIDResponse struct {
	JobID string `json:"job_id"`
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON body")
	}
	return nil
}

func (s *frontend) ecsChangeOS(rt ecsRoute, body []byte) (any, *apiError) {
	reinstall := rt.op == opReinstallOS
	key := "os-change"
	if reinstall {
		key = "os-reinstall"
	}
	var wrapper map[string]*osChange
	if err := decodeStrict(body, &wrapper); err != nil {
		return nil, ecsBad("malformed request body: %v", err)
	}
	c := wrapper[key]
	if c == nil || len(wrapper) != 1 {
		return nil, ecsBad("the body must be {%q: {...}}", key)
	}
	if reinstall && c.ImageID != nil {
		return nil, ecsBad("os-reinstall takes no imageid; use changeos to change the image")
	}
	if !reinstall && (c.ImageID == nil || *c.ImageID == "") {
		return nil, ecsBad("imageid is required")
	}
	if !reinstall && !sim.IsUUID(*c.ImageID) {
		return nil, ecsBad("imageid %q is not a UUID", *c.ImageID)
	}
	if c.KeyName == "" && c.AdminPass == "" {
		return nil, ecsBad("keyname and adminpass cannot both be empty")
	}
	if c.AdminPass != "" {
		if err := huaweicloud.CheckPassword(c.AdminPass); err != nil {
			return nil, ecsErr(http.StatusBadRequest, "Ecs.0011", "Invalid password: %v", err)
		}
	}
	if c.Mode != "" && c.Mode != "withStopServer" {
		return nil, ecsBad("mode must be withStopServer or absent, got %q", c.Mode)
	}
	if m := c.Metadata; m != nil {
		if m.BYOL != nil && *m.BYOL != "true" {
			return nil, ecsBad(`metadata.BYOL takes only "true"`)
		}
		if m.Encrypted != nil && *m.Encrypted != "0" && *m.Encrypted != "1" {
			return nil, ecsBad(`metadata.__system__encrypted must be "0" or "1"`)
		}
	}
	if c.IsAutoPay != "" && c.IsAutoPay != "true" && c.IsAutoPay != "false" {
		return nil, ecsBad(`isAutoPay must be "true" or "false"`)
	}
	s.Lock()
	defer s.Unlock()
	in, e := s.ecsServerByID(rt)
	if e != nil {
		return nil, e
	}
	target := in.Image
	if !reinstall {
		target = *c.ImageID
		if why := s.ImageRefusal(huaweicloud.Type, target); why != "" {
			return nil, ecsErr(http.StatusBadRequest, "Ecs.0031", "The image %s %s.", target, why)
		}
	}
	if e := ecsRefusal(in); e != nil {
		return nil, e
	}
	status, task, _ := ecsState(in)
	switch {
	case in.State.Transitional():
		return nil, ecsErr(http.StatusBadRequest, "Ecs.0100", "The ECS status does not allow this operation: status %s, task_state %s.", status, task)
	case in.State == sim.StateError && !in.ChangeFailed:
		return nil, ecsErr(http.StatusBadRequest, "Ecs.0100", "The ECS status does not allow this operation: status ERROR.")
	case in.State == sim.StateRunning && c.Mode != "withStopServer":
		return nil, ecsErr(http.StatusBadRequest, "Ecs.0100", "The ECS is running: stop it first or set mode withStopServer.")
	}
	now := s.Now()
	var steps []sim.Step
	if in.State == sim.StateRunning {
		steps = append(steps, sim.Step{State: sim.StateStopping, Image: in.Image, Lasts: s.Jittered(s.Config().StopDuration)})
	}
	j := &job{id: s.newJobID(), typ: "changeOS", project: rt.project, serverID: in.ID, begin: now}
	if reinstall {
		j.typ = "reInitOs"
	}
	if in.Prepaid && c.IsAutoPay != "true" {
		// The order stays open (14 days) and the server untouched until paid.
		j.pendingPayment, j.end = true, now.Add(14*24*time.Hour)
		s.addJob(j)
		return jobIDResponse{JobID: j.id}, nil
	}
	rebuild := s.Jittered(s.Config().RebuildDuration)
	var final sim.Outcome
	if s.RebuildFails(in.ID) {
		steps = append(steps, sim.Step{State: sim.StateRebuilding, Image: in.Image, Lasts: rebuild})
		final = sim.Outcome{State: sim.StateError, Image: in.Image, Fault: "Failed to rebuild the system disk from image " + target, ChangeFailed: true}
		j.fail, j.errorCode, j.failReason = true, "Ecs.0020", final.Fault
	} else if s.JobFails(in.ID) {
		// The job fails before the disk is touched (the image could not be
		// fetched): the server, shut off for the change, stays SHUTOFF on its
		// old image, unharmed.
		steps = append(steps, sim.Step{State: sim.StateRebuilding, Image: in.Image, Lasts: rebuild / 4})
		final = sim.Outcome{State: sim.StateStopped, Image: in.Image, Fault: "Failed to download image " + target + " to the system disk", ChangeFailed: true}
		j.fail, j.errorCode, j.failReason = true, "Ecs.0021", final.Fault
	} else {
		steps = append(steps,
			sim.Step{State: sim.StateRebuilding, Image: in.Image, Lasts: rebuild, Count: true},
			sim.Step{State: sim.StateStarting, Image: target, Lasts: s.Jittered(s.Config().StartDuration)})
		final = sim.Outcome{State: sim.StateRunning, Image: target}
	}
	j.end = s.Run(in, now, s.Queue(in, rt.op, steps), final)
	s.addJob(j)
	return jobIDResponse{JobID: j.id}, nil
}

// batchBody is the body of cloudservers/action.
type batchBody struct {
	Stop  *batchAction `json:"os-stop,omitempty"`
	Start *batchAction `json:"os-start,omitempty"`
}

type batchAction struct {
	Servers []struct {
		ID string `json:"id"`
	} `json:"servers"`
	Type string `json:"type,omitempty"`
}

func (s *frontend) ecsBatch(rt ecsRoute, body []byte) (any, *apiError) {
	var b batchBody
	if err := decodeStrict(body, &b); err != nil {
		return nil, ecsBad("malformed request body (this simulator supports os-stop and os-start): %v", err)
	}
	if (b.Stop == nil) == (b.Start == nil) {
		return nil, ecsBad("the body must hold exactly one of os-stop or os-start")
	}
	a, stop := b.Start, false
	if b.Stop != nil {
		a, stop = b.Stop, true
		if a.Type != "" && a.Type != "SOFT" && a.Type != "HARD" {
			return nil, ecsBad("os-stop type must be SOFT or HARD, got %q", a.Type)
		}
	} else if a.Type != "" {
		return nil, ecsBad("os-start takes no type")
	}
	if len(a.Servers) == 0 {
		return nil, ecsBad("servers must list 1 to 1000 servers, got none")
	}
	if len(a.Servers) > 1000 {
		// The batch's size, not a throttle: the client splits the batch.
		return nil, ecsErr(http.StatusBadRequest, "Ecs.0118", "The number of ECSs %d is greater than the maximum number 1000.", len(a.Servers))
	}
	s.Lock()
	defer s.Unlock()
	now := s.Now()
	j := &job{id: s.newJobID(), typ: "batchStartServer", project: rt.project, begin: now, end: now, subs: []*job{}}
	subType := "startServer"
	if stop {
		j.typ, subType = "batchStopServer", "stopServer"
	}
	for _, srv := range a.Servers {
		sj := &job{id: s.newJobID(), typ: subType, project: rt.project, serverID: srv.ID, begin: now, end: now}
		j.subs = append(j.subs, sj)
		in := s.Fleet(huaweicloud.Type)[srv.ID]
		if in == nil || in.Project != rt.project {
			sj.fail, sj.errorCode, sj.failReason = true, "Ecs.0114", "The ECS "+srv.ID+" does not exist."
			j.fail = true
			continue
		}
		in.Settle(now)
		if e := ecsRefusal(in); e != nil {
			sj.fail, sj.errorCode, sj.failReason = true, e.code, e.message
			j.fail = true
			continue
		}
		switch {
		case stop && (in.State == sim.StateRunning || in.State == sim.StateError):
			sj.end = s.Run(in, now, []sim.Step{{State: sim.StateStopping, Image: in.Image, Lasts: s.Jittered(s.Config().StopDuration)}}, sim.Outcome{State: sim.StateStopped, Image: in.Image})
		case !stop && in.State == sim.StateStopped:
			sj.end = s.Run(in, now, []sim.Step{{State: sim.StateStarting, Image: in.Image, Lasts: s.Jittered(s.Config().StartDuration)}}, sim.Outcome{State: sim.StateRunning, Image: in.Image})
		case stop && in.State == sim.StateStopped, !stop && in.State == sim.StateRunning:
			// Already there: nothing to do, the sub-job succeeds at once.
		default:
			status, task, _ := ecsState(in)
			sj.fail, sj.errorCode = true, "Ecs.0100"
			sj.failReason = fmt.Sprintf("The ECS status does not allow this operation: status %s, task_state %s.", status, task)
			j.fail = true
		}
		if sj.end.After(j.end) {
			j.end = sj.end
		}
	}
	if j.fail {
		j.errorCode, j.failReason = "Ecs.0100", "some sub-jobs failed; see entities.sub_jobs"
	}
	s.addJob(j)
	return jobIDResponse{JobID: j.id}, nil
}

func (s *frontend) ecsJob(rt ecsRoute) (any, *apiError) {
	s.Lock()
	defer s.Unlock()
	now := s.Now()
	j := s.jobs[rt.jobID]
	if j == nil || j.project != rt.project || now.Sub(j.end) > jobTTL {
		return nil, ecsErr(http.StatusNotFound, "Ecs.0005", "The job %s does not exist.", rt.jobID)
	}
	// Settle the servers first, so that a job read as SUCCESS and a server
	// read right after agree.
	if in := s.Fleet(huaweicloud.Type)[j.serverID]; in != nil {
		in.Settle(now)
	}
	return j.view(now), nil
}
