package executor

import "errors"

// What the recap (and anyone reading an instance's failure) needs to know
// about it beyond its step is carried by its type, never read from its text:
// a hook's output or a cloud's message may say anything.
var (
	// ErrInDoubt is matched (errors.Is) by a failure after which the cloud
	// may or may not have made the change: the next run asks it first.
	ErrInDoubt = errors.New("outcome in doubt")
	// ErrErrorState is matched by a failure after which the cloud showed the
	// instance in an error state.
	ErrErrorState = errors.New("instance in an error state")
)

// markedError keeps an error's text and makes it match a sentinel.
type markedError struct{ err, mark error }

func (m *markedError) Error() string        { return m.err.Error() }
func (m *markedError) Unwrap() error        { return m.err }
func (m *markedError) Is(target error) bool { return target == m.mark }

// markAs makes err match the sentinel as (ErrInDoubt, ErrErrorState) without
// changing its text.
func markAs(as, err error) error { return &markedError{err: err, mark: as} }
