package huaweicloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/batch"
)

// Operation names of the marker calls, as the official SDK names them.
const opUpdateMetadata = "UpdateServerMetadata"

var _ providers.Marker = (*Client)(nil)

type metadataBody struct {
	Metadata map[string]string `json:"metadata"`
}

// SetMark sets key=value in the server's metadata (POST …/metadata): ECS adds
// new keys, overwrites an existing one and keeps all others, so one call is
// enough and repeating it is harmless; it is retried as a read is. ECS takes
// it only while the server is active, stopped, paused or suspended (not in
// the middle of a rebuild).
func (c *Client) SetMark(ctx context.Context, id, key, value string) error {
	if err := providers.CheckMark(key, value); err != nil {
		return fmt.Errorf("huaweicloud %s: server %s: %w", c.name, id, err)
	}
	var ans metadataBody
	_, err := c.call(ctx, opUpdateMetadata, http.MethodPost, "/cloudservers/"+url.PathEscape(id)+"/metadata", nil,
		metadataBody{Metadata: map[string]string{key: value}}, false, id, &ans)
	return err
}

// Marks reads the servers' metadata from the detail listing (server_id
// filter, MaxDetailIDs per call, a few calls at once) and keeps the keys that
// start with providers.MarkPrefix. An unknown server maps to an empty map.
func (c *Client) Marks(ctx context.Context, ids []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(ids))
	for _, id := range ids {
		out[id] = map[string]string{}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batch.LookupConcurrency)
	for _, chunk := range batch.Chunks(keys(out), MaxDetailIDs) {
		g.Go(func() error {
			servers, err := c.serversByID(gctx, chunk)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range servers {
				m := out[s.ID]
				if m == nil {
					continue
				}
				for k, v := range s.Metadata {
					if strings.HasPrefix(k, providers.MarkPrefix) {
						m[k] = v
					}
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

// serversByID reads at most MaxDetailIDs servers with the detail listing's
// server_id filter, following pages.
func (c *Client) serversByID(ctx context.Context, ids []string) ([]serverJSON, error) {
	var out []serverJSON
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
		out = append(out, ans.Servers...)
		if len(ans.Servers) < MaxDetailIDs || len(out) >= len(ids) || page*MaxDetailIDs >= ans.Count {
			return out, nil
		}
	}
}

// keys returns m's keys, in no particular order.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
