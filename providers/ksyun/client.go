// Package ksyun is the Kingsoft Cloud KEC client: DescribeInstances,
// StopInstances, StartInstances and ModifyInstanceImage over the query API
// (Version 2016-03-04), signed with SigV4, through the shared plumbing of
// package providers (rate limit, retries, batching, metrics).
package ksyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/apicall"
	"github.com/reimage-dev/reimage/providers/internal/batch"
	"github.com/reimage-dev/reimage/providers/internal/coalesce"
	"github.com/reimage-dev/reimage/providers/internal/ratelimit"
)

// Type is the plan's provider type of this client.
const Type = "ksyun"

// DefaultEndpoint is KEC's API host; the region appears only in the signature.
const DefaultEndpoint = "https://kec.api.ksyun.com"

// Version is the API version of every call.
const Version = "2016-03-04"

// MaxIDs is the most instance ids one DescribeInstances, StopInstances or StartInstances takes.
const MaxIDs = 100

// userAgent is set after signing: the official SDK does not sign it.
const userAgent = "reimage (+https://github.com/reimage-dev/reimage)"

// Client is a KEC client for one account and region. It is safe for concurrent use.
type Client struct {
	name, region string
	ak, sk       string
	base         *url.URL
	// tagBase and sksBase are the tag service's and SKS's base URLs (services.go).
	tagBase, sksBase *url.URL
	caller           *apicall.Caller

	batch.Batcher

	mu      sync.Mutex
	changes map[string]*pendingChange // by instance id: changes this process submitted
	// now is the clock of the grace periods; tests replace it.
	now func() time.Time
}

// pendingChange remembers what this process saw of a change it submitted;
// KEC has no job to ask, so Progress reads the instance and needs to know
// whether the rebuild was seen under way.
type pendingChange struct {
	submitted     time.Time
	sawTransition bool
	// stoppedOnTarget is when the instance was first seen stopped with the
	// change carried out; zero until then.
	stoppedOnTarget time.Time
}

var _ providers.Provider = (*Client)(nil)

// New returns a client for cfg. The endpoint defaults to DefaultEndpoint;
// plain http is refused except to a loopback address.
func New(cfg providers.Config) (*Client, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("ksyun %s: region is required", cfg.Name)
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("ksyun %s: access key and secret key are required", cfg.Name)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	base, err := providers.CheckEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("ksyun %s: %w", cfg.Name, err)
	}
	c := &Client{name: cfg.Name, region: cfg.Region, ak: cfg.AccessKey, sk: cfg.SecretKey, base: base, changes: map[string]*pendingChange{}, now: time.Now}
	if c.tagBase, c.sksBase, err = serviceBases(cfg.Endpoint, base); err != nil {
		return nil, fmt.Errorf("ksyun %s: %w", cfg.Name, err)
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
		Status: c.describe, StatusName: "DescribeInstances", StatusSize: MaxIDs,
		Stop: func(ctx context.Context, ids []string) (map[string]coalesce.Result[struct{}], error) {
			return c.powerBatch(ctx, "StopInstances", ids)
		},
		Start: func(ctx context.Context, ids []string) (map[string]coalesce.Result[struct{}], error) {
			return c.powerBatch(ctx, "StartInstances", ids)
		},
		StopName: "StopInstances", StartName: "StartInstances", PowerSize: MaxIDs,
		ReadBudget: c.caller.Limiter().ReadCalls,
	})
	return c, nil
}

// Type returns "ksyun".
func (c *Client) Type() string { return Type }

// Capabilities: ModifyInstanceImage needs a stopped instance, so the engine stops it first.
func (c *Client) Capabilities() providers.Capabilities {
	return providers.Capabilities{ChangeStopsRunning: false}
}

// Limiter returns the client's rate limiter (for tests and diagnostics).
func (c *Client) Limiter() *ratelimit.Limiter { return c.caller.Limiter() }

// Error codes that steer retries. KEC documents no throttling code; the
// simulator (and AWS-style gateways) answer RequestLimitExceeded.
var (
	throttleCodes = map[string]bool{"RequestLimitExceeded": true, "Throttling": true, "ThrottlingException": true, "TooManyRequests": true}
	// Signature-time errors: the gateway refused the request before any processing.
	rejectedCodes    = map[string]bool{"RequestExpired": true, "RequestTimeTooSkewed": true, "SignatureExpired": true, "InvalidTimestamp": true}
	serverErrorCodes = map[string]bool{"ServiceUnavailable": true, "InternalError": true}
)

// prepare sets KEC's headers and signs the request as the official SDK does.
func (c *Client) prepare(req *http.Request, body []byte, now time.Time) error {
	req.Header.Set("Accept", "application/json")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.ContentLength = int64(len(body))
	}
	if err := signService(req, body, c.ak, c.sk, serviceOfVersion(req.URL.Query().Get("Version")), c.region, now); err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent)
	return nil
}

// errorBody is KEC's error answer.
type errorBody struct {
	RequestID string `json:"RequestId"`
	Error     *struct {
		Type, Code, Message string
	}
}

func parseError(status int, _ http.Header, body []byte) *providers.APIError {
	var eb errorBody
	jsonErr := json.Unmarshal(body, &eb)
	if status < 300 && (jsonErr != nil || eb.Error == nil || eb.Error.Code == "") {
		return nil
	}
	e := &providers.APIError{HTTPStatus: status, RequestID: eb.RequestID}
	if eb.Error != nil {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Message = snippet(body)
	}
	return e
}

// snippet keeps the start of a non-JSON answer (a proxy's error page) for people.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// call sends one KEC action. Every action the client sends is a POST, as the
// official SDK sends them: only Action and Version in the query, all
// parameters, those two included, as a form, so that a password or userData
// never sits in a URL. GET (every parameter in the query) remains for tests.
func (c *Client) call(ctx context.Context, method, action string, params url.Values, write bool, resource string, out any) error {
	return c.serviceCall(ctx, c.base, Version, method, action, params, write, resource, out)
}

// instanceJSON is one entry of DescribeInstances' InstancesSet.
type instanceJSON struct {
	InstanceID    string `json:"InstanceId"`
	InstanceName  string
	ImageID       string `json:"ImageId"`
	InstanceState struct {
		Name      string
		TaskState string
	}
	// Where it is (address.go).
	PrivateIPAddress    string `json:"PrivateIpAddress"`
	AvailabilityZone    string
	NetworkInterfaceSet []networkInterfaceJSON
}

type describeAnswer struct {
	RequestID     string `json:"RequestId"`
	Marker        int
	InstanceCount int
	InstancesSet  []instanceJSON
}

// normalise maps KEC's state names; any state but active, stopped and error
// is a transition (building, stopping, starting, rebuilding…).
func normalise(in instanceJSON) providers.Instance {
	inst := providers.Instance{ID: in.InstanceID, Name: in.InstanceName, Image: in.ImageID, RawState: in.InstanceState.Name,
		PrivateIP: in.privateIP(), Zone: in.AvailabilityZone}
	if in.InstanceState.TaskState != "" {
		inst.RawState += "/" + in.InstanceState.TaskState
	}
	name := in.InstanceState.Name
	switch {
	case name == "active":
		inst.State = providers.StateRunning
	case name == "stopped":
		inst.State = providers.StateStopped
	case errorLike(name):
		// No Fault: KEC gives no explanation, and RawState names the state
		// (a made-up "instance is in state error" made every reason say it twice).
		inst.State = providers.StateError
	case settledStates[name]:
		// Settled after a migration or a resize, neither running nor stopped:
		// reimage does not change an instance in it.
		inst.State = providers.StateUnknown
	default:
		// building, stopping, starting, rebuilding, overriding (reinstall), migrating…
		inst.State = providers.StateInProgress
	}
	return inst
}

// errorLike reports whether a KEC state is an end state after a failure:
// error, and the failed ends of other operations (power_on_error,
// migrating_error, cross_error, resize_error_local, csresize-error,
// attach_key_pair_failed, inactive, invalid…). Waiting on one is waiting for
// nothing: a failed boot would otherwise run into the instance timeout.
func errorLike(name string) bool {
	switch name {
	case "error", "inactive", "invalid":
		return true
	}
	return strings.Contains(name, "error") || strings.HasSuffix(name, "_failed")
}

// settledStates are KEC's states after a finished migration or resize.
var settledStates = map[string]bool{
	"migrating_success": true, "migrating_success_off_line": true, "resize_success_local": true, "cross_finish": true,
}

// describe looks up at most MaxIDs instances, following Marker pages. Ids the
// cloud does not return come back with StateNotFound.
func (c *Client) describe(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	out := make(map[string]providers.Instance, len(ids))
	marker := 0
	for {
		params := url.Values{"MaxResults": {strconv.Itoa(MaxIDs)}, "Marker": {strconv.Itoa(marker)}}
		for i, id := range ids {
			params.Set("InstanceId."+strconv.Itoa(i+1), id)
		}
		var ans describeAnswer
		if err := c.call(ctx, http.MethodPost, "DescribeInstances", params, false, batch.Resource(ids, "instances"), &ans); err != nil {
			return nil, err
		}
		for _, in := range ans.InstancesSet {
			out[in.InstanceID] = normalise(in)
		}
		marker += len(ans.InstancesSet)
		// Marker is an offset. Stop on a short page, when the count is reached,
		// or when every id is answered (which saves a call on a full page).
		if len(ans.InstancesSet) < MaxIDs || marker >= ans.InstanceCount || len(out) >= len(ids) {
			break
		}
	}
	batch.MarkNotFound(out, ids)
	return out, nil
}

// Lookup returns every id's state in DescribeInstances calls of MaxIDs ids.
func (c *Client) Lookup(ctx context.Context, ids []string) (map[string]providers.Instance, error) {
	return batch.LookupBatches(ctx, ids, MaxIDs, c.describe)
}

type powerAnswer struct {
	RequestID    string `json:"RequestId"`
	InstancesSet []struct {
		InstanceID string `json:"InstanceId"`
		Return     bool
		Message    string
		Messgae    string // sic: the documented spelling of StopInstances
	}
}

// powerBatch sends StopInstances or StartInstances; a batch the cloud refuses
// as a whole is split (batch.Bisect) so that only the ids concerned fail.
func (c *Client) powerBatch(ctx context.Context, action string, ids []string) (map[string]coalesce.Result[struct{}], error) {
	errs := batch.Bisect(ctx, ids, func(ctx context.Context, ids []string) (map[string]error, error) {
		params := url.Values{}
		for i, id := range ids {
			params.Set("InstanceId."+strconv.Itoa(i+1), id)
		}
		var ans powerAnswer
		if err := c.call(ctx, http.MethodPost, action, params, true, batch.Resource(ids, "instances"), &ans); err != nil {
			return nil, err
		}
		res := make(map[string]error, len(ids))
		seen := make(map[string]bool, len(ids))
		for _, r := range ans.InstancesSet {
			seen[r.InstanceID] = true
			if r.Return {
				res[r.InstanceID] = nil
				continue
			}
			msg := r.Message
			if msg == "" {
				msg = r.Messgae
			}
			if msg == "" {
				msg = "the cloud answered Return=false"
			}
			res[r.InstanceID] = &providers.APIError{Type: Type, Provider: c.name, Operation: action, Resource: r.InstanceID,
				Message: msg, HTTPStatus: http.StatusOK, RequestID: ans.RequestID}
		}
		for _, id := range ids {
			if !seen[id] {
				// Accepted as a whole, but this id has no entry: the cloud did not say.
				res[id] = &providers.InDoubtError{Type: Type, Provider: c.name, Operation: action, Resource: id,
					Cause: errors.New("the answer has no entry for this instance")}
			}
		}
		return res, nil
	})
	out := make(map[string]coalesce.Result[struct{}], len(errs))
	for id, err := range errs {
		out[id] = coalesce.Result[struct{}]{Err: err}
	}
	return out, nil
}

type modifyAnswer struct {
	RequestID string `json:"RequestId"`
	Return    *bool
}

// Change sends ModifyInstanceImage with every parameter of the request; the
// instance must already be stopped.
func (c *Client) Change(ctx context.Context, req providers.ChangeRequest) (providers.Submission, error) {
	params := changeParams(req)
	var ans modifyAnswer
	if err := c.call(ctx, http.MethodPost, "ModifyInstanceImage", params, true, req.InstanceID, &ans); err != nil {
		return providers.Submission{}, err
	}
	if ans.Return != nil && !*ans.Return {
		return providers.Submission{}, &providers.APIError{Type: Type, Provider: c.name, Operation: "ModifyInstanceImage",
			Resource: req.InstanceID, Message: "the cloud answered Return=false", HTTPStatus: http.StatusOK, RequestID: ans.RequestID}
	}
	c.mu.Lock()
	c.changes[req.InstanceID] = &pendingChange{submitted: c.now()}
	c.mu.Unlock()
	return providers.Submission{InstanceID: req.InstanceID, ImageID: req.ImageID, Reinstall: req.Reinstall, RequestID: ans.RequestID}, nil
}

// changeParams maps a ChangeRequest onto ModifyInstanceImage's parameters
// (the seed's list). A reinstall omits ImageId: "no ImageId" is how KEC says
// "reinstall the current image".
func changeParams(req providers.ChangeRequest) url.Values {
	p := url.Values{"InstanceId": {req.InstanceID}}
	if !req.Reinstall && req.ImageID != "" {
		p.Set("ImageId", req.ImageID)
	}
	opts := OptionsOf(req.Options)
	if d := opts.SystemDisk; d != nil {
		if d.SizeGB > 0 {
			p.Set("SystemDisk.DiskSize", strconv.Itoa(d.SizeGB))
		}
		if d.Type != "" {
			p.Set("SystemDisk.DiskType", d.Type)
		}
		if d.Resize != "" {
			p.Set("SystemDisk.ResizeType", d.Resize)
		}
	}
	switch {
	case opts.KeepImageLogin:
		p.Set("KeepImageLogin", "true")
	case req.Password != "":
		p.Set("InstancePassword", req.Password)
	}
	for i, k := range opts.KeyIDs {
		p.Set("KeyId."+strconv.Itoa(i+1), k)
	}
	if u := opts.UserData; u != nil && u.Base64 != "" {
		p.Set("UserData", u.Base64)
	}
	return p
}

// rebuildGrace is how long a submitted change may show no sign of starting
// (still stopped on the old image) before Progress calls it failed.
const rebuildGrace = 2 * time.Minute

// bootGrace is how long an instance this process changed may stay stopped
// with the change carried out before Progress calls it done: KEC boots the
// instance after ModifyInstanceImage, and the Terraform provider waits for
// active. Past it, the engine starts the instance itself if it ran before.
const bootGrace = 3 * time.Minute

// Progress reads the instance (coalesced with other Status calls; KEC has no
// job to ask) and decides:
//   - a transitional state (rebuilding, starting…): in progress;
//   - error: failed, with the state as the reason; not found: failed;
//   - active: done when on the target image (or for a reinstall); on another
//     image the change did not take: failed;
//   - stopped on the target image of a change (or after a reinstall seen
//     under way): in progress for bootGrace, since KEC boots the instance after
//     the rebuild and the Terraform provider waits for active; then done (the
//     image changes only by the rebuild). Stopped on another image, or a reinstall stopped with no
//     transition seen: in progress for rebuildGrace after the submission, then
//     failed. A submission this process did not make (a later run resolving the
//     journal) has no grace: the cloud shows the change did not take, or, for a
//     reinstall, cannot show it ran, and Progress says failed with that reason.
func (c *Client) Progress(ctx context.Context, sub providers.Submission) (providers.Progress, error) {
	inst, err := c.Status(ctx, sub.InstanceID)
	if err != nil {
		return providers.Progress{}, err
	}
	onTarget := inst.Image == sub.ImageID || sub.ImageID == ""
	now := c.now()
	c.mu.Lock()
	pc := c.changes[sub.InstanceID]
	if pc != nil && inst.State == providers.StateInProgress {
		pc.sawTransition = true
	}
	var saw, inGrace, booting bool
	if pc != nil {
		saw, inGrace = pc.sawTransition, now.Sub(pc.submitted) < rebuildGrace
		if inst.State == providers.StateStopped && (!sub.Reinstall && onTarget || sub.Reinstall && saw) {
			if pc.stoppedOnTarget.IsZero() {
				pc.stoppedOnTarget = now
			}
			booting = now.Sub(pc.stoppedOnTarget) < bootGrace
		}
	}
	c.mu.Unlock()

	p := providers.Progress{Phase: providers.PhaseInProgress, Instance: inst}
	switch inst.State {
	case providers.StateInProgress:
		return p, nil
	case providers.StateError:
		p.Phase, p.Reason = providers.PhaseFailed, "instance is in state "+inst.RawState
	case providers.StateNotFound:
		p.Phase, p.Reason = providers.PhaseFailed, "instance not found"
	case providers.StateRunning:
		if sub.Reinstall || onTarget {
			p.Phase = providers.PhaseDone
		} else {
			p.Phase, p.Reason = providers.PhaseFailed, fmt.Sprintf("instance runs image %s, not the target %s: the change did not take", inst.Image, sub.ImageID)
		}
	case providers.StateStopped:
		switch {
		case booting:
			// Carried out; the cloud is about to boot it: wait for active.
		case !sub.Reinstall && onTarget, sub.Reinstall && saw:
			p.Phase = providers.PhaseDone
		case inGrace && !saw:
			// The rebuild has not begun yet.
		case sub.Reinstall:
			p.Phase, p.Reason = providers.PhaseFailed, "instance is stopped and shows no sign that the reinstall ran"
		default:
			p.Phase, p.Reason = providers.PhaseFailed, fmt.Sprintf("instance is stopped on image %s, not the target %s: the change did not take", inst.Image, sub.ImageID)
		}
	default:
		p.Phase, p.Reason = providers.PhaseFailed, "instance is in state "+inst.RawState
	}
	return p, nil
}
