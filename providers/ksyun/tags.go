package ksyun

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/batch"
)

// MaxTagIDs is how many instances one ListTagsByResourceIds asks about. The
// tag service documents no limit; 100 is KEC's own batch size, and a page of
// DescribeInstances (1000) takes ten such calls.
const MaxTagIDs = 100

// tagResourceType is the tag service's resource type of a KEC instance.
const tagResourceType = "instance"

var (
	_ providers.Marker = (*Client)(nil)
)

type tagJSON struct {
	ResourceUUID string `json:"ResourceUuid"`
	TagID        int64  `json:"TagId"`
	TagKey       string
	TagValue     string
}

type listTagsAnswer struct {
	RequestID string `json:"RequestId"`
	Tags      []tagJSON
}

// tagsOf returns the tags of every id (an id without tags maps to an empty
// map), in ListTagsByResourceIds calls of MaxTagIDs ids, a few at once.
func (c *Client) tagsOf(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(ids))
	for _, id := range ids {
		out[id] = map[string]string{}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batch.LookupConcurrency)
	for _, chunk := range batch.Chunks(ids, MaxTagIDs) {
		g.Go(func() error {
			params := url.Values{"ResourceType": {tagResourceType}, "ResourceUuids": {strings.Join(chunk, ",")}}
			var ans listTagsAnswer
			if err := c.serviceCall(gctx, c.tagBase, TagVersion, http.MethodPost, "ListTagsByResourceIds", params, false,
				batch.Resource(chunk, "instances"), &ans); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, t := range ans.Tags {
				if m := out[t.ResourceUUID]; m != nil {
					m[t.TagKey] = t.TagValue
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

type resultAnswer struct {
	RequestID string `json:"RequestId"`
	Result    *bool
}

// SetMark attaches the tag key=value to the instance with
// CreateTagAndAttachResource: one call that touches only that key. The other
// way, ReplaceResourcesTags, replaces every tag of the instance, so adding one
// means reading them all and sending them back: two calls, and a tag someone
// else adds between the two is lost. The tag service is silent on whether
// CreateTagAndAttachResource keeps the other tags; the simulator assumes it
// does (its name says "attach"), and a key already on the instance takes the
// new value. The call is idempotent, so it is retried as a read is.
func (c *Client) SetMark(ctx context.Context, id, key, value string) error {
	if err := providers.CheckMark(key, value); err != nil {
		return fmt.Errorf("ksyun %s: instance %s: %w", c.name, id, err)
	}
	params := url.Values{"TagKey": {key}, "TagValue": {value}, "ResourceType": {tagResourceType}, "ResourceUuid": {id}}
	var ans resultAnswer
	if err := c.serviceCall(ctx, c.tagBase, TagVersion, http.MethodPost, "CreateTagAndAttachResource", params, false, id, &ans); err != nil {
		return err
	}
	if ans.Result != nil && !*ans.Result {
		return &providers.APIError{Type: Type, Provider: c.name, Operation: "CreateTagAndAttachResource", Resource: id,
			Message: "the tag service answered Result=false", HTTPStatus: http.StatusOK, RequestID: ans.RequestID}
	}
	return nil
}

// Marks returns the tags of each id whose key starts with providers.MarkPrefix.
func (c *Client) Marks(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	all, err := c.tagsOf(ctx, batch.Dedupe(ids))
	if err != nil {
		return nil, err
	}
	for _, tags := range all {
		for k := range tags {
			if !strings.HasPrefix(k, providers.MarkPrefix) {
				delete(tags, k)
			}
		}
	}
	return all, nil
}
