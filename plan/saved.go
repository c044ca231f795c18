package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// SavedFormatVersion is the version of the saved-plan file format.
const SavedFormatVersion = "1"

// SavedKind marks a saved plan, so that apply can tell one from a YAML plan.
const SavedKind = "reimage-saved-plan"

// Saved is what `plan -out FILE` writes: the plan file it was made from (by
// path and content hash), the changes it showed, and a fingerprint of what was
// looked up for each instance, so that apply can refuse it when the fleet has
// changed since. It holds no secret: logins are references in the plan file.
type Saved struct {
	FormatVersion string    `json:"format_version"`
	Kind          string    `json:"kind"`
	Name          string    `json:"plan"`
	File          string    `json:"file"`
	FileSHA256    string    `json:"file_sha256"`
	Shard         string    `json:"shard,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	// Fingerprints by Key(provider, id) of every instance in scope.
	Fingerprints map[string]string `json:"fingerprints"`
	Changes      []SavedChange     `json:"changes"`
	// Endpoints: where each provider's calls went when the plan was made
	// (EndpointOf); applying against other endpoints is stale.
	Endpoints map[string]string `json:"endpoints,omitempty"`
	// Frozen: the selected instances, image ids and narrowing the plan was made with.
	Frozen
}

// SavedChange is one change a saved plan will make.
type SavedChange struct {
	Provider  string `json:"provider"`
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Action    string `json:"action"`
	FromImage string `json:"from_image"`
	ToImage   string `json:"to_image"`
	StopFirst bool   `json:"stop_first,omitempty"`
	// Spec sums everything the change submits but secrets' values: image,
	// token, login (references) and the cloud's options (Spec).
	Spec string `json:"spec"`
}

// Sum is the SHA-256 of data, in hex.
func Sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// Spec sums what a change of the instance would submit, secrets excepted
// (their references count): two specs differ when the change would. The bytes
// summed are those of format version 1, when every cloud's fields were the
// plan's: the cloud's options (Options.SpecParts) write theirs around the
// password's reference, so that plans saved before still apply.
func Spec(in *Instance) string {
	h := sha256.New()
	pw := ""
	if in.Login.Password != nil {
		pw = in.Login.Password.String()
	}
	before, after := "", ""
	if in.Options != nil {
		before, after = in.Options.SpecParts()
	}
	fmt.Fprintf(h, "image=%s\x00token=%s\x00running=%s\x00%spw=%s%s", in.Image, in.Reinstall, in.Running, before, pw, after)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// EndpointOf names where a provider's calls go, for a saved plan to bind:
// the endpoint given (plan or simulator), else the cloud's regional default.
func EndpointOf(p *Provider, endpoint string) string {
	if endpoint == "" {
		endpoint = "default"
	}
	return p.Type + " " + p.Region + " " + endpoint
}

// Fingerprint sums what a look-up saw of an instance.
func Fingerprint(o Observed) string {
	h := sha256.New()
	fmt.Fprintf(h, "%t\x00%s\x00%d\x00%s", o.Found, o.Image, o.Power, o.Raw)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// FileSum is the SHA-256 of a plan file's bytes.
func FileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewSaved records a plan's changes and fingerprints. The plan's path is
// stored absolute, so that apply finds it from any directory; fileSum is the
// sum of the bytes that were parsed (Plan.SHA256).
func NewSaved(p *Plan, fileSum string, shard Shard, changes []Change, now time.Time) *Saved {
	file := p.File
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	s := &Saved{FormatVersion: SavedFormatVersion, Kind: SavedKind, Name: p.Name, File: file, FileSHA256: fileSum,
		Shard: shard.String(), CreatedAt: now.UTC(), Fingerprints: map[string]string{}}
	for _, c := range changes {
		in := c.Instance
		s.Fingerprints[Key(in.Provider, in.ID)] = Fingerprint(c.Observed)
		if c.Action.Mutates() {
			s.Changes = append(s.Changes, SavedChange{Provider: in.Provider, ID: in.ID, Name: in.Name, Action: c.Action.String(),
				FromImage: c.FromImage, ToImage: in.Image, StopFirst: c.StopFirst, Spec: Spec(in)})
		}
	}
	return s
}

// IsSaved reports whether data looks like a saved plan (JSON) rather than YAML.
func IsSaved(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && bytes.Contains(data, []byte(`"`+SavedKind+`"`))
}

// ReadSaved reads a saved plan.
func ReadSaved(path string) (*Saved, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read saved plan: %w", err)
	}
	var s Saved
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("saved plan %s: %w", path, err)
	}
	if s.Kind != SavedKind {
		return nil, fmt.Errorf("saved plan %s: not a reimage saved plan", path)
	}
	if s.FormatVersion != SavedFormatVersion {
		return nil, fmt.Errorf("saved plan %s: format version %q, this reimage reads %q", path, s.FormatVersion, SavedFormatVersion)
	}
	return &s, nil
}

// Write saves the plan at path, mode 0600, atomically.
func (s *Saved) Write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write saved plan: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write saved plan: %w", err)
	}
	return nil
}

// Stale compares a fresh diff with the saved plan and lists, per instance,
// what differs; an empty list means the saved plan still holds.
func (s *Saved) Stale(fresh []Change) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range fresh {
		k := Key(c.Instance.Provider, c.Instance.ID)
		seen[k] = true
		want, ok := s.Fingerprints[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: not in the saved plan", k))
		case want != Fingerprint(c.Observed):
			out = append(out, fmt.Sprintf("%s: now %s on image %s", k, orUnknown(c.Observed.Raw, c.Observed.Found), c.Observed.Image))
		}
	}
	for k := range s.Fingerprints {
		if !seen[k] {
			out = append(out, fmt.Sprintf("%s: no longer in the plan", k))
		}
	}
	// Each saved change must still be exactly the change apply would make:
	// the same action, target image and submitted spec (user data included).
	byKey := make(map[string]*Change, len(fresh))
	for i := range fresh {
		byKey[Key(fresh[i].Instance.Provider, fresh[i].Instance.ID)] = &fresh[i]
	}
	for _, sc := range s.Changes {
		k := Key(sc.Provider, sc.ID)
		c := byKey[k]
		switch {
		case c == nil:
			// Reported above as no longer in the plan.
		case c.Action.String() != sc.Action:
			out = append(out, fmt.Sprintf("%s: the saved plan would %s it, it is now %s", k, sc.Action, describe(c)))
		case c.Instance.Image != sc.ToImage:
			out = append(out, fmt.Sprintf("%s: the saved plan targets image %s, the plan now %s", k, sc.ToImage, c.Instance.Image))
		case sc.Spec != "" && Spec(c.Instance) != sc.Spec:
			out = append(out, fmt.Sprintf("%s: what the change submits (login, system disk, user data or token) differs from the saved plan", k))
		}
	}
	sort.Strings(out)
	return out
}

func describe(c *Change) string {
	if c.Reason != "" {
		return c.Action.String() + " (" + c.Reason + ")"
	}
	return c.Action.String()
}

// StaleEndpoints compares where the providers' calls go now with where they
// went when the plan was saved.
func (s *Saved) StaleEndpoints(now map[string]string) []string {
	if s.Endpoints == nil {
		return nil
	}
	var out []string
	for name, was := range s.Endpoints {
		if is, ok := now[name]; !ok {
			out = append(out, fmt.Sprintf("provider %s: no longer in the plan", name))
		} else if is != was {
			out = append(out, fmt.Sprintf("provider %s: saved for %s, now %s", name, was, is))
		}
	}
	for name := range now {
		if _, ok := s.Endpoints[name]; !ok {
			out = append(out, fmt.Sprintf("provider %s: not in the saved plan", name))
		}
	}
	sort.Strings(out)
	return out
}

// PlanFile returns the path of the plan file a saved plan (read from
// savedPath) was made from: stored absolute; a relative one, written by an
// older reimage, is taken relative to the saved plan.
func (s *Saved) PlanFile(savedPath string) string {
	if filepath.IsAbs(s.File) {
		return s.File
	}
	return filepath.Join(filepath.Dir(savedPath), s.File)
}

func orUnknown(raw string, found bool) string {
	if !found {
		return "not found"
	}
	if raw == "" {
		return "unknown state"
	}
	return raw
}

// Restrict keeps, of a fresh diff, only the changes the saved plan makes; the
// others become ok ("not in the saved plan") so that apply does exactly what
// was reviewed.
func (s *Saved) Restrict(fresh []Change) []Change {
	keep := map[string]bool{}
	for _, c := range s.Changes {
		keep[Key(c.Provider, c.ID)] = true
	}
	out := make([]Change, len(fresh))
	for i, c := range fresh {
		if c.Action.Mutates() && !keep[Key(c.Instance.Provider, c.Instance.ID)] {
			c.Action, c.Reason = ActionOK, "not in the saved plan"
		}
		out[i] = c
	}
	return out
}
