// Package batch gives a driver its per-instance calls on top of the cloud's
// batch calls: look-ups cut into batches, batch writes split around the ids
// the cloud refuses, and concurrent calls gathered into one (Batcher).
package batch

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/providers/internal/coalesce"
)

// Chunks cuts ids into consecutive slices of at most n.
func Chunks[T any](ids []T, n int) [][]T {
	var out [][]T
	for len(ids) > n {
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// LookupConcurrency is how many lookup batches a Lookup runs at once; all of
// them still wait on the provider's one rate limiter.
const LookupConcurrency = 4

// LookupBatches runs fn over ids cut into batches of size, up to
// LookupConcurrency at once, and merges the answers. The first error ends it.
func LookupBatches(ctx context.Context, ids []string, size int, fn LookupFunc) (map[string]providers.Instance, error) {
	out := make(map[string]providers.Instance, len(ids))
	chunks := Chunks(Dedupe(ids), size)
	results := make([]map[string]providers.Instance, len(chunks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(LookupConcurrency)
	for i, chunk := range chunks {
		g.Go(func() error {
			m, err := fn(gctx, chunk)
			results[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, m := range results {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// LookupFunc looks up a batch of ids in one call.
type LookupFunc func(ctx context.Context, ids []string) (map[string]providers.Instance, error)

// StatusBatches adapts a batch look-up to a status coalescer: every id in the
// batch gets its instance.
func StatusBatches(fn LookupFunc) coalesce.BatchFunc[string, providers.Instance] {
	return func(ctx context.Context, ids []string) (map[string]coalesce.Result[providers.Instance], error) {
		m, err := fn(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make(map[string]coalesce.Result[providers.Instance], len(m))
		for id, inst := range m {
			out[id] = coalesce.Result[providers.Instance]{Value: inst}
		}
		return out, nil
	}
}

// Resource names what one batch call is about, for errors: the id of a
// batch of one, else how many (noun: "instances", "servers").
func Resource(ids []string, noun string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	return fmt.Sprintf("(%d %s)", len(ids), noun)
}

// MarkNotFound records every id a look-up did not answer as not found.
func MarkNotFound(out map[string]providers.Instance, ids []string) {
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = providers.Instance{ID: id, State: providers.StateNotFound, RawState: "not found"}
		}
	}
}

// Dedupe keeps the first of each id, in order: a batch call names an id once.
func Dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Bisect runs a batch write over ids; when the cloud refuses the whole batch
// with a final error (one bad id can make it refuse all), it splits the batch
// in two and tries each half, so that only the instances concerned fail. This
// is safe because a final refusal proves the cloud accepted nothing; errors
// that leave the outcome in doubt (or throttling that outlasted the retries)
// are given to every id of the batch as they are.
func Bisect(ctx context.Context, ids []string, fn func(ctx context.Context, ids []string) (map[string]error, error)) map[string]error {
	out := make(map[string]error, len(ids))
	var run func(ids []string)
	run = func(ids []string) {
		res, err := fn(ctx, ids)
		if err == nil {
			for _, id := range ids {
				out[id] = res[id]
			}
			return
		}
		var apiErr *providers.APIError
		if len(ids) > 1 && ctx.Err() == nil && errors.As(err, &apiErr) && !apiErr.Throttled && !providers.IsInDoubt(err) {
			half := len(ids) / 2
			run(ids[:half])
			run(ids[half:])
			return
		}
		for _, id := range ids {
			out[id] = providers.WithResource(err, id)
		}
	}
	run(ids)
	return out
}
