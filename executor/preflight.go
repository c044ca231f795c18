package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
)

// PreflightResult is what the checks before any change found.
type PreflightResult struct {
	// Blocked counts the changes the checks turned into blocked.
	Blocked int
	// BadImages lists each target image that does not exist or cannot be used,
	// as "provider image: reason", sorted; apply refuses to start while any does.
	BadImages []string
}

// Preflight checks, before any instance is touched, what the changes need:
// every target image exists and can be used (with the instance's system disk),
// every key pair exists, every login password resolves and meets its cloud's
// policy. A change that fails a check becomes blocked, with the reason, in
// changes (modified in place); a password's reason names its reference, never
// the value, and each secret is resolved and checked once per cloud. An error
// of the cloud calls themselves is returned as is. Providers without
// the capabilities (providers.Preflighter, providers.PasswordChecker) are not
// asked; the generic policy (plan.CheckPassword) applies to their passwords.
func Preflight(ctx context.Context, provs map[string]providers.Provider, changes []plan.Change, resolve func(*plan.SecretRef) (string, error)) (PreflightResult, error) {
	var res PreflightResult
	if resolve == nil {
		resolve = (*plan.SecretRef).Resolve
	}
	byProvider := map[string][]*plan.Change{}
	var names []string
	for i := range changes {
		c := &changes[i]
		if !c.Action.Mutates() {
			continue
		}
		if byProvider[c.Instance.Provider] == nil {
			names = append(names, c.Instance.Provider)
		}
		byProvider[c.Instance.Provider] = append(byProvider[c.Instance.Provider], c)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		pf, ok := provs[name].(providers.Preflighter)
		if !ok {
			continue
		}
		bad, err := preflightProvider(ctx, name, pf, byProvider[name])
		if err != nil {
			// The client's error names its cloud, provider and call already.
			errs = append(errs, fmt.Errorf("pre-flight: %w", err))
			continue
		}
		res.BadImages = append(res.BadImages, bad...)
	}
	checkPasswords(provs, names, byProvider, resolve)
	for _, name := range names {
		for _, c := range byProvider[name] {
			if c.Action == plan.ActionBlocked {
				res.Blocked++
			}
		}
	}
	sort.Strings(res.BadImages)
	return res, errors.Join(errs...)
}

// preflightProvider checks one provider's images and key pairs, blocking the
// changes that fail; it returns the bad images.
func preflightProvider(ctx context.Context, name string, pf providers.Preflighter, changes []*plan.Change) ([]string, error) {
	var ids, keys []string
	seenID, seenKey := map[string]bool{}, map[string]bool{}
	for _, c := range changes {
		if !seenID[c.Instance.Image] {
			seenID[c.Instance.Image] = true
			ids = append(ids, c.Instance.Image)
		}
		for _, k := range loginKeys(c.Instance) {
			if !seenKey[k] {
				seenKey[k] = true
				keys = append(keys, k)
			}
		}
	}
	images, err := pf.Images(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	var found map[string]bool
	if len(keys) > 0 {
		if found, err = pf.KeyPairs(ctx, keys); err != nil {
			return nil, fmt.Errorf("key pairs: %w", err)
		}
	}
	var bad []string
	badSeen := map[string]bool{}
	for _, c := range changes {
		in := c.Instance
		var reasons []string
		img, ok := images[in.Image]
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("target image %s does not exist in the region (or this account cannot see it)", in.Image))
		case !img.Usable:
			reasons = append(reasons, fmt.Sprintf("target image %s cannot be used: %s", in.Image, img.Reason))
		case in.Options != nil && in.Options.CheckImage(in.Image, img.MinDiskGB) != "":
			reasons = append(reasons, in.Options.CheckImage(in.Image, img.MinDiskGB))
		}
		if len(reasons) > 0 && (!ok || !img.Usable) && !badSeen[in.Image] {
			badSeen[in.Image] = true
			bad = append(bad, name+" "+in.Image+": "+strings.TrimPrefix(reasons[0], "target image "+in.Image+" "))
		}
		for _, k := range loginKeys(in) {
			if !found[k] {
				reasons = append(reasons, fmt.Sprintf("key pair %s does not exist", k))
			}
		}
		if len(reasons) > 0 {
			c.Action, c.StopFirst = plan.ActionBlocked, false
			c.Reason = "pre-flight: " + strings.Join(reasons, "; ")
		}
	}
	return bad, nil
}

// loginKeys are the key pairs an instance's login names (its cloud's options
// know which).
func loginKeys(in *plan.Instance) []string {
	if in.Options == nil {
		return nil
	}
	return in.Options.Keys()
}

// checkPasswords resolves each password reference once per cloud type and
// checks it against that cloud's policy; the changes whose password does not
// resolve or breaks the policy are blocked with the reason, which names the
// reference, never the value (DESIGN.md: an instance that fails a check is
// blocked with the reason).
func checkPasswords(provs map[string]providers.Provider, names []string, byProvider map[string][]*plan.Change, resolve func(*plan.SecretRef) (string, error)) {
	type use struct {
		ref     *plan.SecretRef
		check   func(string) error
		cloud   string
		changes []*plan.Change
	}
	uses := map[string]*use{}
	var order []string
	for _, name := range names {
		prov := provs[name]
		check, cloud := plan.CheckPassword, "generic"
		if pc, ok := prov.(providers.PasswordChecker); ok {
			check, cloud = pc.CheckPassword, prov.Type()
		}
		for _, c := range byProvider[name] {
			ref := c.Instance.Login.Password
			if ref == nil {
				continue
			}
			key := ref.String() + "\x00" + cloud
			u := uses[key]
			if u == nil {
				u = &use{ref: ref, check: check, cloud: cloud}
				uses[key] = u
				order = append(order, key)
			}
			u.changes = append(u.changes, c)
		}
	}
	for _, key := range order {
		u := uses[key]
		pw, err := resolve(u.ref)
		if err == nil {
			err = u.check(pw)
		}
		if err == nil {
			continue
		}
		reason := fmt.Sprintf("login password %s: %v", u.ref, err)
		for _, c := range u.changes {
			if c.Action == plan.ActionBlocked {
				c.Reason += "; " + reason // already blocked by its image or key pairs
				continue
			}
			c.Action, c.StopFirst = plan.ActionBlocked, false
			c.Reason = "pre-flight: " + reason
		}
	}
}
