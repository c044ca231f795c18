// Package huaweicloud is the Huawei Cloud ECS client: server details, changeos
// and reinstallos (images without Cloud-Init), batch power actions and jobs,
// signed with SDK-HMAC-SHA256, through the shared plumbing of package
// providers (rate limit, retries, batching, metrics). It does not depend on the
// official SDK, a 250 MB module.
package huaweicloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/apicall"
	"github.com/reimage-dev/reimage/providers/internal/batch"
	"github.com/reimage-dev/reimage/providers/internal/coalesce"
	"github.com/reimage-dev/reimage/providers/internal/ratelimit"
)

// Type is the plan's provider type of this client.
const Type = "huaweicloud"

// Batch limits of the API.
const (
	// MaxDetailIDs is the most ids the detail call's server_id filter takes.
	MaxDetailIDs = 100
	// MaxActionServers is the most servers one os-stop / os-start takes.
	MaxActionServers = 1000
)

// Operation names, as the official SDK names them (metrics, simulator stats).
const (
	opList      = "ListServersDetails"
	opChange    = "ChangeServerOsWithoutCloudInit"
	opReinstall = "ReinstallServerWithoutCloudInit"
	opStop      = "BatchStopServers"
	opStart     = "BatchStartServers"
	opJob       = "ShowJob"
)

const userAgent = "reimage (+https://github.com/reimage-dev/reimage)"

// Client is an ECS client for one project in one region. It is safe for concurrent use.
type Client struct {
	name      string
	projectID string
	ak, sk    string
	// bases are the ECS endpoints, in the order given; cur indexes the one in
	// use. Reads move on to the next after a connection error; writes go to
	// the one in use and are never sent to another when in doubt.
	bases []*url.URL
	cur   atomic.Int32
	// imsBase and kpsBase are the image and key pair services' base URLs (services.go).
	imsBase, kpsBase *url.URL
	caller           *apicall.Caller

	batch.Batcher
}

var _ providers.Provider = (*Client)(nil)

// DefaultEndpoint returns the ECS endpoint of region: the official SDK's
// override HUAWEICLOUD_SDK_REGION_ECS_<REGION> when set (which may list
// several endpoints, comma-separated, used in order), else
// https://ecs.<region>.myhuaweicloud.com.
func DefaultEndpoint(region string) string {
	env := "HUAWEICLOUD_SDK_REGION_ECS_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	if v := os.Getenv(env); v != "" {
		return v
	}
	return "https://ecs." + region + ".myhuaweicloud.com"
}

// New returns a client for cfg. The project id is required (HUAWEICLOUD_SDK_PROJECT_ID
// or HW_PROJECT_ID when the config has none); plain http is refused except to
// a loopback address.
func New(cfg providers.Config) (*Client, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("huaweicloud %s: region is required", cfg.Name)
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("huaweicloud %s: access key and secret key are required", cfg.Name)
	}
	project := cfg.Settings[providers.ProjectSetting]
	for _, env := range []string{"HUAWEICLOUD_SDK_PROJECT_ID", "HW_PROJECT_ID"} {
		if project == "" {
			project = os.Getenv(env)
		}
	}
	if project == "" {
		return nil, fmt.Errorf("huaweicloud %s: projectId is required (or environment variable HUAWEICLOUD_SDK_PROJECT_ID)", cfg.Name)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint(cfg.Region)
	}
	var bases []*url.URL
	for _, e := range splitEndpoints(endpoint) {
		base, err := providers.CheckEndpoint(e)
		if err != nil {
			return nil, fmt.Errorf("huaweicloud %s: %w", cfg.Name, err)
		}
		bases = append(bases, base)
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("huaweicloud %s: the endpoint list %q names no endpoint", cfg.Name, endpoint)
	}
	c := &Client{name: cfg.Name, projectID: project, ak: cfg.AccessKey, sk: cfg.SecretKey, bases: bases}
	var err error
	if c.imsBase, c.kpsBase, err = serviceBases(cfg.Endpoint, cfg.Region, bases[0]); err != nil {
		return nil, fmt.Errorf("huaweicloud %s: %w", cfg.Name, err)
	}
	c.caller = apicall.NewCaller(cfg, apicall.Dialect{
		Type:             Type,
		Prepare:          c.prepare,
		ParseError:       parseError,
		ThrottleCodes:    throttleCodes,
		RejectedCodes:    rejectedCodes,
		ServerErrorCodes: serverErrorCodes,
	})
	c.Batcher = batch.NewBatcher(cfg, batch.BatchCalls{
		Status: c.detail, StatusName: opList, StatusSize: MaxDetailIDs,
		Stop: func(ctx context.Context, ids []string) (map[string]coalesce.Result[struct{}], error) {
			return c.actionBatch(ctx, opStop, ids)
		},
		Start: func(ctx context.Context, ids []string) (map[string]coalesce.Result[struct{}], error) {
			return c.actionBatch(ctx, opStart, ids)
		},
		StopName: opStop, StartName: opStart, PowerSize: MaxActionServers,
		ReadBudget: c.caller.Limiter().ReadCalls,
	})
	return c, nil
}

// Type returns "huaweicloud".
func (c *Client) Type() string { return Type }

// Capabilities: changeos with mode withStopServer stops a running server itself.
func (c *Client) Capabilities() providers.Capabilities {
	return providers.Capabilities{ChangeStopsRunning: true}
}

// Limiter returns the client's rate limiter (for tests and diagnostics).
func (c *Client) Limiter() *ratelimit.Limiter { return c.caller.Limiter() }

var (
	// The gateway's throttling (both spellings seen). Ecs.0118 ("the number
	// of ECSs is greater than the maximum number") is not one: it refuses the
	// batch's size, and batch.Bisect splits the batch.
	throttleCodes = map[string]bool{"APIGW.0308": true, "APIG.0308": true}
	// The gateway refused the request's date before any processing.
	rejectedCodes    = map[string]bool{"APIGW.0303": true, "APIG.0303": true}
	serverErrorCodes = map[string]bool{"Ecs.0002": true, "Common.0002": true}
)

// prepare sets the headers the official SDK sends and signs
// user-agent;x-project-id;x-sdk-date (Content-Type is never signed).
func (c *Client) prepare(req *http.Request, body []byte, now time.Time) error {
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Project-Id", c.projectID)
	Sign(req, body, c.ak, c.sk, now)
	return nil
}

// errorBody holds both error shapes: ECS's {"error":{…}} and the gateway's.
type errorBody struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

func parseError(status int, h http.Header, body []byte) *providers.APIError {
	if status < 300 {
		return nil
	}
	var eb errorBody
	e := &providers.APIError{HTTPStatus: status, RequestID: h.Get("X-Request-Id")}
	if err := json.Unmarshal(body, &eb); err != nil {
		e.Message = snippet(body)
		return e
	}
	switch {
	case eb.Error != nil:
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	case eb.ErrorCode != "":
		e.Code, e.Message = eb.ErrorCode, eb.ErrorMsg
	default:
		e.Message = snippet(body)
	}
	if e.RequestID == "" {
		e.RequestID = eb.RequestID
	}
	if (e.Code == "APIGW.0301" || e.Code == "APIG.0301") && strings.Contains(strings.ToLower(e.Message), "expired") {
		// The AK/SK signature is too old for the gateway: this machine's clock
		// is off (retrying cannot help, and repeated failures lock the key).
		e.Message += fmt.Sprintf(" (the signature's X-Sdk-Date is too far from the cloud's time: check this machine's clock, now %s UTC)",
			time.Now().UTC().Format(time.RFC3339))
	}
	return e
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// call sends one ECS request under /v1/{project_id}; in is marshalled as the
// JSON body when not nil, and the answer is unmarshalled into out.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, in any, write bool, resource string, out any) (requestID string, err error) {
	var body []byte
	if in != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		// The official SDK does not escape <, > and & in bodies.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			return "", fmt.Errorf("huaweicloud %s: %s %s: %w", c.name, op, resource, err)
		}
		body = bytes.TrimRight(buf.Bytes(), "\n")
	}
	start := int(c.cur.Load())
	for i := 0; ; i++ {
		idx := (start + i) % len(c.bases)
		base := c.bases[idx]
		u := *base
		u.Path = base.Path + "/v1/" + c.projectID + path
		u.RawQuery = query.Encode()
		req := apicall.Request{Operation: op, Write: write, Resource: resource, Method: method, URL: u.String(), Body: body}
		resp, err := c.caller.Do(ctx, req)
		if err != nil {
			if !write && i+1 < len(c.bases) && ctx.Err() == nil && unreachable(err) {
				c.cur.CompareAndSwap(int32(idx), int32((idx+1)%len(c.bases)))
				continue
			}
			return "", err
		}
		if err := c.caller.Decode(req, resp, out); err != nil {
			return "", err
		}
		return resp.Header.Get("X-Request-Id"), nil
	}
}

// splitEndpoints reads an endpoint setting that may list several endpoints,
// comma-separated (as HUAWEICLOUD_SDK_REGION_ECS_<REGION> may).
func splitEndpoints(v string) []string {
	var out []string
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// unreachable reports whether err says the endpoint could not be reached or
// did not answer (a connection or name error, a timeout), not that the cloud
// answered: only then may a read try the next endpoint.
func unreachable(err error) bool {
	var apiErr *providers.APIError
	if errors.As(err, &apiErr) || providers.IsInDoubt(err) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// serverJSON is one server of the detail answer.
type serverJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Status    string            `json:"status"`
	Image     json.RawMessage   `json:"image"`
	Metadata  map[string]string `json:"metadata"`
	TaskState *string           `json:"OS-EXT-STS:task_state"`
	Locked    bool              `json:"locked"`
	// Where it is and how it is labelled (address.go).
	AZ        string                   `json:"OS-EXT-AZ:availability_zone"`
	Addresses map[string][]addressJSON `json:"addresses"`
	Tags      []string                 `json:"tags"`
	Fault     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"fault"`
}

// imageID reads image.id (an object in ECS; OpenStack also sends "" for
// volume-booted servers), falling back to metadata's metering.image_id.
func (s serverJSON) imageID() string {
	var obj struct {
		ID string `json:"id"`
	}
	if len(s.Image) > 0 && json.Unmarshal(s.Image, &obj) == nil && obj.ID != "" {
		return obj.ID
	}
	return s.Metadata["metering.image_id"]
}

// normalise maps ECS's status and task state.
func normalise(s serverJSON) providers.Instance {
	inst := providers.Instance{ID: s.ID, Name: s.Name, Image: s.imageID(), RawState: s.Status,
		PrivateIP: s.privateIP(), Zone: s.AZ}
	task := ""
	if s.TaskState != nil {
		task = *s.TaskState
	}
	if task != "" {
		inst.RawState += "/" + task
	}
	if s.Fault != nil {
		inst.Fault = strings.TrimSpace(s.Fault.Message)
	}
	switch s.Status {
	case "":
		// Unknown ids come back with only id and fault.
		inst.State, inst.RawState, inst.Image = providers.StateNotFound, "not found", ""
	case "DELETED", "SOFT_DELETED":
		inst.State = providers.StateNotFound
	case "ACTIVE", "SHUTOFF":
		switch {
		case task != "":
			inst.State = providers.StateInProgress
		case s.Status == "ACTIVE":
			inst.State = providers.StateRunning
		default:
			inst.State = providers.StateStopped
		}
	case "ERROR":
		inst.State = providers.StateError
	case "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED", "UNKNOWN":
		// Settled, but in a state reimage does not change: neither running nor
		// stopped (UNKNOWN: the cloud itself does not know; waiting on it
		// would only run into the instance timeout).
		inst.State = providers.StateUnknown
	default:
		// REBUILD, BUILD, REBOOT, HARD_REBOOT, MIGRATING, RESIZE, VERIFY_RESIZE, REVERT_RESIZE…
		inst.State = providers.StateInProgress
	}
	if s.Locked && (inst.State == providers.StateRunning || inst.State == providers.StateStopped) {
		// A locked server refuses every operation: not one to stop or change.
		inst.State = providers.StateUnknown
		inst.RawState += " (locked)"
		inst.Fault = "server is locked: ECS refuses operations on it until it is unlocked"
	}
	return inst
}

type detailAnswer struct {
	Count   int          `json:"count"`
	Servers []serverJSON `json:"servers"`
}

// detail looks up at most MaxDetailIDs servers with the server_id filter,
// following pages (offset is a page number from 1). Ids the cloud does not
// return come back with StateNotFound.
func (c *Client) detail(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	out := make(map[string]providers.Instance, len(ids))
	for page := 1; ; page++ {
		q := url.Values{
			"server_id": {strings.Join(ids, ",")},
			"limit":     {strconv.Itoa(MaxDetailIDs)},
			"offset":    {strconv.Itoa(page)},
		}
		var ans detailAnswer
		if _, err := c.call(ctx, opList, http.MethodGet, "/cloudservers/detail", q, nil, false, batch.Resource(ids, "servers"), &ans); err != nil {
			return nil, err
		}
		for _, s := range ans.Servers {
			out[s.ID] = normalise(s)
		}
		if len(ans.Servers) < MaxDetailIDs || page*MaxDetailIDs >= ans.Count || len(out) >= len(ids) {
			break
		}
	}
	batch.MarkNotFound(out, ids)
	return out, nil
}

// Lookup returns every id's state in detail calls of MaxDetailIDs ids.
func (c *Client) Lookup(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	return batch.LookupBatches(ctx, ids, MaxDetailIDs, c.detail)
}

type serverRef struct {
	ID string `json:"id"`
}

type stopBody struct {
	Stop struct {
		Servers []serverRef `json:"servers"`
		Type    string      `json:"type"`
	} `json:"os-stop"`
}

type startBody struct {
	Start struct {
		Servers []serverRef `json:"servers"`
	} `json:"os-start"`
}

type jobAnswer struct {
	JobID string `json:"job_id"`
}

// actionBatch sends one os-stop or os-start for ids. The answer is a job with
// one sub-job per server; the job is read once for sub-jobs that failed at
// once (subJobFailures), and not followed further: acceptance is all Stop and
// Start promise (the engine waits for the state). A batch refused as a whole
// is split so that only the servers concerned fail.
func (c *Client) actionBatch(ctx context.Context, op string, ids []string) (map[string]coalesce.Result[struct{}], error) {
	errs := batch.Bisect(ctx, ids, func(ctx context.Context, ids []string) (map[string]error, error) {
		refs := make([]serverRef, len(ids))
		for i, id := range ids {
			refs[i] = serverRef{ID: id}
		}
		var in any
		if op == opStop {
			var b stopBody
			b.Stop.Servers, b.Stop.Type = refs, "SOFT"
			in = b
		} else {
			var b startBody
			b.Start.Servers = refs
			in = b
		}
		var ans jobAnswer
		if _, err := c.call(ctx, op, http.MethodPost, "/cloudservers/action", nil, in, true, batch.Resource(ids, "servers"), &ans); err != nil {
			return nil, err
		}
		return c.subJobFailures(ctx, op, ans.JobID), nil
	})
	out := make(map[string]coalesce.Result[struct{}], len(errs))
	for id, err := range errs {
		out[id] = coalesce.Result[struct{}]{Err: err}
	}
	return out, nil
}

// subJobFailures reads a batch action's job once, right after it was
// accepted, and returns the servers whose sub-job already failed (ECS refuses
// a server in the wrong state or unknown at once, in its sub-job, while the
// others go on). It is best effort: a server whose sub-job fails later shows
// it in its state, which the engine waits on anyway; if the job cannot be
// read, every server counts as accepted.
func (c *Client) subJobFailures(ctx context.Context, op, jobID string) map[string]error {
	out := map[string]error{}
	if jobID == "" {
		return out
	}
	job, err := c.ShowJob(ctx, jobID)
	if err != nil {
		return out
	}
	for i := range job.Entities.SubJobs {
		sj := &job.Entities.SubJobs[i]
		if sj.Status == "FAIL" && sj.Entities.ServerID != "" {
			out[sj.Entities.ServerID] = &providers.APIError{Type: Type, Provider: c.name, Operation: op,
				Resource: sj.Entities.ServerID, Code: sj.ErrorCode, Message: sj.FailReason, HTTPStatus: http.StatusOK}
		}
	}
	return out
}

// osChange is the body of changeos (v1) and, without imageid, of reinstallos.
type osChange struct {
	AdminPass string    `json:"adminpass,omitempty"`
	KeyName   string    `json:"keyname,omitempty"`
	UserID    string    `json:"userid,omitempty"`
	ImageID   string    `json:"imageid,omitempty"`
	Metadata  *metadata `json:"metadata,omitempty"`
	Mode      string    `json:"mode,omitempty"`
	// IsAutoPay "true" pays a prepaid server's order at once, as the
	// Terraform provider sends it; without it the job waits in
	// PENDING_PAYMENT.
	IsAutoPay string `json:"isAutoPay,omitempty"`
}

type metadata struct {
	BYOL string `json:"BYOL,omitempty"`
}

// changeBody builds the request body; mode withStopServer lets ECS stop a
// running server itself (without it, Ecs.0100).
func changeBody(req providers.ChangeRequest) any {
	opts := OptionsOf(req.Options)
	o := osChange{AdminPass: req.Password, KeyName: opts.KeyName, UserID: opts.UserID}
	if opts.BYOL {
		o.Metadata = &metadata{BYOL: "true"}
	}
	if req.Running {
		o.Mode = "withStopServer"
	}
	if opts.AutoPay {
		o.IsAutoPay = "true"
	}
	if req.Reinstall {
		return struct {
			O osChange `json:"os-reinstall"`
		}{o}
	}
	o.ImageID = req.ImageID
	return struct {
		O osChange `json:"os-change"`
	}{o}
}

// Change submits changeos (v1, image without Cloud-Init) or, for a reinstall,
// reinstallos; the answer is a job id, which the Submission carries.
func (c *Client) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	op, path := opChange, "/cloudservers/"+url.PathEscape(req.InstanceID)+"/changeos"
	if req.Reinstall {
		op, path = opReinstall, "/cloudservers/"+url.PathEscape(req.InstanceID)+"/reinstallos"
	}
	var ans jobAnswer
	rid, err := c.call(ctx, op, http.MethodPost, path, nil, changeBody(req), true, req.InstanceID, &ans)
	if err != nil {
		return providers.Submission{}, err
	}
	// An answer without a job id is still an acceptance: Progress then decides from the server.
	return providers.Submission{InstanceID: req.InstanceID, ImageID: req.ImageID, Reinstall: req.Reinstall, JobID: ans.JobID, RequestID: rid}, nil
}

// Job is an ECS job as ShowJob reports it.
type Job struct {
	ID         string `json:"job_id"`
	Type       string `json:"job_type"`
	Status     string `json:"status"`
	ErrorCode  string `json:"error_code"`
	FailReason string `json:"fail_reason"`
	Entities   struct {
		ServerID string `json:"server_id"`
		SubJobs  []Job  `json:"sub_jobs"`
		// ErrorcodeMessage is a sub-job's failure detail.
		ErrorcodeMessage string `json:"errorcode_message"`
	} `json:"entities"`
}

// Reason is the job's failure reason: its own, else its first failed sub-job's,
// with the error code in front.
func (j *Job) Reason() string {
	code, reason := j.ErrorCode, j.FailReason
	if detail := j.Entities.ErrorcodeMessage; detail != "" && !strings.Contains(reason, detail) {
		if reason == "" {
			reason = detail
		} else {
			reason += " (" + detail + ")"
		}
	}
	if reason == "" {
		for i := range j.Entities.SubJobs {
			s := &j.Entities.SubJobs[i]
			if s.Status == "FAIL" {
				if r := s.Reason(); r != "" {
					return r
				}
			}
		}
	}
	switch {
	case reason == "" && code == "":
		return "the job failed without a reason"
	case code == "":
		return reason
	case reason == "":
		return code
	}
	return code + ": " + reason
}

// ShowJob returns a job.
func (c *Client) ShowJob(ctx context.Context, jobID string) (*Job, error) {
	var j Job
	if _, err := c.call(ctx, opJob, http.MethodGet, "/jobs/"+url.PathEscape(jobID), nil, nil, false, jobID, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Progress decides from the server first (a coalesced detail call) and asks
// the job only when the server cannot tell:
//   - a transition (REBUILD, a task state…): in progress;
//   - settled (ACTIVE or SHUTOFF, no task) on the target image of a change: done,
//     without a job call;
//   - ERROR, settled on another image, or a reinstall (the image cannot tell):
//     ShowJob once: FAIL → failed with fail_reason; SUCCESS → done; INIT,
//     RUNNING… → in progress (ERROR with no failed job: failed with the fault);
//   - not found: failed.
//
// With no job id (a later run resolving a change found in doubt), or when the
// job has vanished (jobs are kept a day), the server alone decides: settled
// on the target → done; settled on another image → failed, "the change did not
// take"; a reinstall that settled → failed, since nothing shows whether it ran;
// ERROR → failed with the fault.
func (c *Client) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	inst, err := c.Status(ctx, sub.InstanceID)
	if err != nil {
		return providers.Progress{}, err
	}
	p := providers.Progress{Phase: providers.PhaseInProgress, Instance: inst}
	settled := inst.State == providers.StateRunning || inst.State == providers.StateStopped
	switch {
	case inst.State == providers.StateInProgress:
		return p, nil
	case inst.State == providers.StateNotFound:
		p.Phase, p.Reason = providers.PhaseFailed, "server not found"
		return p, nil
	case settled && !sub.Reinstall && inst.Image == sub.ImageID:
		p.Phase = providers.PhaseDone
		return p, nil
	}

	var job *Job
	if sub.JobID != "" {
		job, err = c.ShowJob(ctx, sub.JobID)
		var apiErr *providers.APIError
		if errors.As(err, &apiErr) && apiErr.HTTPStatus == http.StatusNotFound {
			job, err = nil, nil
		}
		if err != nil {
			return providers.Progress{}, err
		}
	}
	if job != nil {
		switch job.Status {
		case "FAIL":
			p.Phase, p.Reason = providers.PhaseFailed, job.Reason()
			return p, nil
		case "PENDING_PAYMENT":
			// Never "in progress": the order stays open for days and whoever
			// pays it re-images the server then, outside any rollout.
			p.Phase, p.Reason = providers.PhaseFailed, "the job waits for payment (PENDING_PAYMENT): the server is prepaid; "+
				"set isAutoPay: true for it in the plan, and cancel the unpaid order in the console so that it cannot re-image the server later"
			return p, nil
		case "SUCCESS":
			if inst.State != providers.StateError {
				p.Phase = providers.PhaseDone
				return p, nil
			}
		default:
			if inst.State != providers.StateError {
				return p, nil
			}
		}
	}
	p.Phase = providers.PhaseFailed
	switch {
	case inst.State == providers.StateError:
		p.Reason = "server is in state ERROR"
		if inst.Fault != "" {
			p.Reason += ": " + inst.Fault
		}
	case !settled:
		p.Reason = "server is in state " + inst.RawState
	case sub.Reinstall:
		p.Reason = "server is " + inst.RawState + " and nothing shows whether the reinstall ran (no job to ask)"
	default:
		p.Reason = fmt.Sprintf("server is %s on image %s, not the target %s: the change did not take", inst.RawState, inst.Image, sub.ImageID)
	}
	return p, nil
}
