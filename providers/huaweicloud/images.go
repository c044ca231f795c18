package huaweicloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/batch"
)

// Operation names of the pre-flight calls, as the official SDK names them.
const (
	opListImages  = "ListImages"
	opShowKeypair = "ListKeypairDetail"
)

var _ providers.Preflighter = (*Client)(nil)

// imageJSON is one image of IMS's GET /v2/cloudimages.
type imageJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	MinDisk        int    `json:"min_disk"`
	Platform       string `json:"__platform"`
	OSType         string `json:"__os_type"`
	ImageType      string `json:"__imagetype"`
	VirtualEnvType string `json:"virtual_env_type"`
}

// image maps an IMS image. Usable: status "active" and, when IMS says what
// the image is for, an ECS system disk image (virtual_env_type FusionCompute;
// DataImage, Ironic or IsoImage images cannot be the target of changeos).
func (in imageJSON) image() providers.Image {
	img := providers.Image{ID: in.ID, Name: in.Name, State: in.Status, MinDiskGB: in.MinDisk, Platform: in.Platform, Usable: true}
	switch {
	case in.Status != "active":
		img.Usable, img.Reason = false, fmt.Sprintf("image is in state %q, not active", in.Status)
	case in.VirtualEnvType != "" && in.VirtualEnvType != "FusionCompute":
		img.Usable, img.Reason = false, fmt.Sprintf("image is a %s image, not an ECS system disk image", in.VirtualEnvType)
	}
	return img
}

type imagesAnswer struct {
	Images []imageJSON `json:"images"`
}

// imsPageSize is IMS's default (and the SDK's usual) page.
const imsPageSize = 500

// listImages pages through GET /v2/cloudimages with the query q (marker =
// the last id of the previous page).
func (c *Client) listImages(ctx context.Context, q url.Values, resource string) ([]imageJSON, error) {
	var out []imageJSON
	q.Set("limit", strconv.Itoa(imsPageSize))
	for {
		var ans imagesAnswer
		if err := c.serviceCall(ctx, c.imsBase, opListImages, http.MethodGet, "/v2/cloudimages", q, nil, false, resource, &ans); err != nil {
			return nil, err
		}
		out = append(out, ans.Images...)
		if len(ans.Images) < imsPageSize {
			return out, nil
		}
		q.Set("marker", ans.Images[len(ans.Images)-1].ID)
	}
}

// Images asks IMS once per id (its id filter takes one), a few at once; an
// image the account cannot see comes back as an empty list.
func (c *Client) Images(ctx context.Context, ids []string) (map[string]providers.Image, error) {
	out := map[string]providers.Image{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batch.LookupConcurrency)
	for _, id := range keys(setOf(ids)) {
		g.Go(func() error {
			imgs, err := c.listImages(gctx, url.Values{"id": {id}}, id)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, in := range imgs {
				if in.ID == id {
					out[id] = in.image()
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

// ImagesByName asks IMS for the images named exactly name (its name filter
// is exact), in any state, so that a name whose only image is unusable says so.
func (c *Client) ImagesByName(ctx context.Context, name string) ([]providers.Image, error) {
	imgs, err := c.listImages(ctx, url.Values{"name": {name}}, fmt.Sprintf("images named %q", name))
	if err != nil {
		return nil, err
	}
	var out []providers.Image
	for _, in := range imgs {
		if in.Name == name {
			out = append(out, in.image())
		}
	}
	return out, nil
}

// KeyPairs asks KPS once per name (GET /v3/{project}/keypairs/{name}), a few
// at once; 404 means the key pair does not exist.
func (c *Client) KeyPairs(ctx context.Context, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batch.LookupConcurrency)
	for _, name := range keys(setOf(names)) {
		g.Go(func() error {
			var ans struct {
				Keypair struct {
					Name string `json:"name"`
				} `json:"keypair"`
			}
			err := c.serviceCall(gctx, c.kpsBase, opShowKeypair, http.MethodGet, "/v3/"+c.projectID+"/keypairs/"+url.PathEscape(name), nil, nil, false, name, &ans)
			var apiErr *providers.APIError
			exists := err == nil
			if errors.As(err, &apiErr) && apiErr.HTTPStatus == http.StatusNotFound {
				err = nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			out[name] = exists
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// setOf returns the distinct strings of list as a set.
func setOf(list []string) map[string]bool {
	out := make(map[string]bool, len(list))
	for _, s := range list {
		out[s] = true
	}
	return out
}
