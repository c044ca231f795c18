package batch

import (
	"context"
	"errors"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

func TestBisectIsolatesRefusedIDs(t *testing.T) {
	bad := "c"
	var calls int
	errs := Bisect(context.Background(), []string{"a", "b", "c", "d", "e"}, func(_ context.Context, ids []string) (map[string]error, error) {
		calls++
		for _, id := range ids {
			if id == bad {
				return nil, &providers.APIError{Code: "InstanceNotFound", HTTPStatus: 400}
			}
		}
		return map[string]error{}, nil
	})
	for id, err := range errs {
		if (err != nil) != (id == bad) {
			t.Errorf("%s: %v", id, err)
		}
	}
	var apiErr *providers.APIError
	if !errors.As(errs[bad], &apiErr) || apiErr.Resource != bad {
		t.Errorf("the refused id's error does not name it: %v", errs[bad])
	}
	// In doubt: no split, every id gets it.
	calls = 0
	errs = Bisect(context.Background(), []string{"a", "b"}, func(context.Context, []string) (map[string]error, error) {
		calls++
		return nil, &providers.InDoubtError{Operation: "Stop", Cause: errors.New("reset")}
	})
	if calls != 1 || !providers.IsInDoubt(errs["a"]) || !providers.IsInDoubt(errs["b"]) {
		t.Errorf("in doubt: %d calls, %v", calls, errs)
	}
}

func TestChunks(t *testing.T) {
	got := Chunks([]int{1, 2, 3, 4, 5}, 2)
	if len(got) != 3 || len(got[2]) != 1 {
		t.Errorf("Chunks = %v", got)
	}
	if Chunks([]int(nil), 2) != nil {
		t.Error("Chunks of nothing is not nil")
	}
}
