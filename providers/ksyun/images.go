package ksyun

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/batch"
)

var _ providers.Preflighter = (*Client)(nil)

// imageJSON is one entry of DescribeImages' ImagesSet.
type imageJSON struct {
	ImageID          string `json:"ImageId"`
	Name             string
	ImageState       string
	Platform         string
	ImageSource      string
	SysDisk          int
	CloudInitSupport bool
}

type imagesAnswer struct {
	RequestID string `json:"RequestId"`
	ImagesSet []imageJSON
}

// image maps a KEC image. It is usable when its state is "active" (KEC
// documents no other state as usable; the reference is silent on the rest).
func (in imageJSON) image() providers.Image {
	img := providers.Image{ID: in.ImageID, Name: in.Name, State: in.ImageState, MinDiskGB: in.SysDisk, Platform: in.Platform, Usable: true}
	if in.ImageState != "active" {
		img.Usable, img.Reason = false, fmt.Sprintf("image is in state %q, not active", in.ImageState)
	}
	return img
}

// describeImages sends one DescribeImages: for one image id, or for every
// image the account sees (id "").
func (c *Client) describeImages(ctx context.Context, id string) ([]imageJSON, error) {
	params := url.Values{}
	resource := "images"
	if id != "" {
		params.Set("ImageId", id)
		resource = id
	}
	var ans imagesAnswer
	if err := c.call(ctx, http.MethodGet, "DescribeImages", params, false, resource, &ans); err != nil {
		// KEC answers an id it does not know with ImageIdInvalidParameterValue (as
		// ModifyInstanceImage does): absent, not a failure of the check.
		if id != "" && providers.ErrorCode(err) == "ImageIdInvalidParameterValue" {
			return nil, nil
		}
		return nil, err
	}
	return ans.ImagesSet, nil
}

// Images asks DescribeImages, which takes one ImageId and does not page: one
// call per id for a single id, else one call for every image the account sees,
// filtered here — the fewest calls either way.
func (c *Client) Images(ctx context.Context, ids []string) (map[string]providers.Image, error) {
	out := map[string]providers.Image{}
	ids = batch.Dedupe(ids)
	if len(ids) == 0 {
		return out, nil
	}
	one := ""
	if len(ids) == 1 {
		one = ids[0]
	}
	set, err := c.describeImages(ctx, one)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	for _, in := range set {
		if want[in.ImageID] {
			out[in.ImageID] = in.image()
		}
	}
	return out, nil
}

// ImagesByName lists the account's images (DescribeImages has no name
// filter) and keeps those named exactly name.
func (c *Client) ImagesByName(ctx context.Context, name string) ([]providers.Image, error) {
	set, err := c.describeImages(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []providers.Image
	for _, in := range set {
		if in.Name == name {
			out = append(out, in.image())
		}
	}
	return out, nil
}

// MaxKeyIDs is how many KeyId.N one SKS DescribeKeys takes here.
const MaxKeyIDs = 100

type keysAnswer struct {
	RequestID string `json:"RequestId"`
	KeySet    []struct {
		KeyID   string `json:"KeyId"`
		KeyName string
	}
	TotalCount int
}

// KeyPairs asks SKS DescribeKeys for the key ids (KeyId.N, MaxKeyIDs per
// call): an id it does not return does not exist for this account.
func (c *Client) KeyPairs(ctx context.Context, keys []string) (map[string]bool, error) {
	keys = batch.Dedupe(keys)
	out := make(map[string]bool, len(keys))
	for _, chunk := range batch.Chunks(keys, MaxKeyIDs) {
		params := url.Values{"MaxResults": {strconv.Itoa(len(chunk))}}
		for i, k := range chunk {
			params.Set("KeyId."+strconv.Itoa(i+1), k)
			out[k] = false
		}
		var ans keysAnswer
		if err := c.serviceCall(ctx, c.sksBase, SKSVersion, http.MethodPost, "DescribeKeys", params, false, batch.Resource(chunk, "key pairs"), &ans); err != nil {
			return nil, err
		}
		for _, k := range ans.KeySet {
			if _, asked := out[k.KeyID]; asked {
				out[k.KeyID] = true
			}
		}
	}
	return out, nil
}
