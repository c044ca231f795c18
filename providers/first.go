package providers

import "context"

type firstKey struct{}

// WithFirst marks reads made under ctx as going first in the rate limiter,
// like writes: the re-read of an instance about to be changed, which the
// change waits for. A batch call goes first when any of the calls merged into
// it does. The engine marks; the drivers' limiters and batchers honour it.
func WithFirst(ctx context.Context) context.Context {
	return context.WithValue(ctx, firstKey{}, true)
}

// IsFirst reports whether ctx was marked by WithFirst.
func IsFirst(ctx context.Context) bool {
	first, _ := ctx.Value(firstKey{}).(bool)
	return first
}
