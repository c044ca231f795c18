package sim

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/reimage-dev/reimage/plan"
)

// The simulator's model of what the clouds know besides instances: image
// details (names, states, minimum disks), key pairs, tags, server metadata,
// zones and private addresses. Existence of an image stays in Server.images
// (what a change checks); catalog holds what pre-flight reads about it.

// Image describes one catalogued image (AddImageInfo). Fields left empty get
// defaults derived from the id: an active Linux image named after its id.
type Image struct {
	Provider string
	ID       string
	Name     string
	// State is the cloud's state: KEC "active"…; Huawei "active", "queued",
	// "saving", "deleted", "killed". "" = active.
	State string
	// Platform is KEC's Platform ("centos-7.9") or Huawei's __platform ("CentOS").
	Platform string
	// MinDiskGB is KEC's SysDisk or Huawei's min_disk; 0 = 20 (KEC) or 40 (Huawei).
	MinDiskGB int
	// EnvType is Huawei's virtual_env_type ("" = FusionCompute, an ECS system
	// disk image; "DataImage" or "Ironic" cannot go on an ECS system disk).
	EnvType string
}

// KeyPair is a key pair of one cloud (AddKeyPair): KEC knows it by id (a
// UUID) and name, Huawei by name only.
type KeyPair struct {
	Provider string
	ID       string // KEC only
	Name     string
}

// catalog is guarded by Server.mu.
type catalog struct {
	images map[string]map[string]*Image // provider type -> image id -> details
	// kecKeys maps KEC key ids to key names; ecsKeys holds Huawei key pair names.
	kecKeys map[string]string
	ecsKeys map[string]bool
	// ipSeq numbers private addresses across both clouds, so that each is unique.
	ipSeq int
}

func (c *catalog) init() {
	if c.images == nil {
		c.images = map[string]map[string]*Image{Ksyun: {}, HuaweiCloud: {}}
		c.kecKeys = map[string]string{}
		c.ecsKeys = map[string]bool{}
	}
}

// AddImageInfo catalogues an image with its details (and makes it known, as
// AddImage does).
func (s *Server) AddImageInfo(img Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[img.Provider] == nil {
		return fmt.Errorf("sim: image %s: provider type %q is neither %q nor %q", img.ID, img.Provider, Ksyun, HuaweiCloud)
	}
	s.cat.init()
	s.images[img.Provider][img.ID] = true
	c := img
	s.cat.images[img.Provider][img.ID] = &c
	return nil
}

// AddKeyPair makes a key pair known to its cloud.
func (s *Server) AddKeyPair(k KeyPair) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cat.init()
	switch k.Provider {
	case Ksyun:
		if !isUUID(k.ID) {
			return fmt.Errorf("sim: KEC key pair %q: the id must be a UUID", k.ID)
		}
		s.cat.kecKeys[k.ID] = k.Name
	case HuaweiCloud:
		if k.Name == "" {
			return fmt.Errorf("sim: Huawei key pair needs a name")
		}
		s.cat.ecsKeys[k.Name] = true
	default:
		return fmt.Errorf("sim: key pair: provider type %q is neither %q nor %q", k.Provider, Ksyun, HuaweiCloud)
	}
	return nil
}

// image returns what the cloud reports of an image, nil when it does not
// know it (never catalogued, or made missing by Options.MissingImages); s.mu
// must be held.
func (s *Server) image(provider, id string) *Image {
	if !s.images[provider][id] || slices.Contains(s.opts.MissingImages, id) {
		return nil
	}
	s.cat.init()
	img := Image{Provider: provider, ID: id}
	if c := s.cat.images[provider][id]; c != nil {
		img = *c
	}
	if img.Name == "" {
		img.Name = "image-" + id[:min(8, len(id))]
	}
	if img.State == "" {
		img.State = "active"
	}
	if slices.Contains(s.opts.UnusableImages, id) {
		img.State = "deactivated"
		if provider == HuaweiCloud {
			img.State = "killed"
		}
	}
	if img.Platform == "" {
		img.Platform = "centos-7.9"
		if provider == HuaweiCloud {
			img.Platform = "CentOS"
		}
	}
	if img.MinDiskGB == 0 {
		img.MinDiskGB = 20
		if provider == HuaweiCloud {
			img.MinDiskGB = 40
		}
	}
	if img.EnvType == "" && provider == HuaweiCloud {
		img.EnvType = "FusionCompute"
	}
	return &img
}

// imageRefusal says why a change to image id must be refused ("" when it may
// go ahead): the image is unknown or missing, or not in a usable state; s.mu
// must be held.
func (s *Server) imageRefusal(provider, id string) string {
	img := s.image(provider, id)
	switch {
	case img == nil:
		return "does not exist"
	case img.State != "active":
		return "is in state " + img.State
	case provider == HuaweiCloud && img.EnvType != "FusionCompute":
		return "is a " + img.EnvType + " image, not an ECS system disk image"
	}
	return ""
}

// imagesOf returns every image the cloud reports for provider, by id; s.mu
// must be held.
func (s *Server) imagesOf(provider string) []*Image {
	ids := slices.Sorted(maps.Keys(s.images[provider]))
	out := make([]*Image, 0, len(ids))
	for _, id := range ids {
		if img := s.image(provider, id); img != nil {
			out = append(out, img)
		}
	}
	return out
}

// nextPrivateIP returns a fresh private address in 127.0.0.0/8, unique across
// both clouds: loopback, so that health checks of simulated instances (an
// HTTP or TCP server listening on that address) work on one machine. The
// first is 127.0.1.1; host parts 0 and 255 are skipped. s.mu must be held.
func (s *Server) nextPrivateIP() string {
	n := s.cat.ipSeq
	s.cat.ipSeq++
	return fmt.Sprintf("127.%d.%d.%d", (n/254/254)%256, 1+(n/254)%254, 1+n%254)
}

// zoneOf returns a zone of region: given, or the region's zone "a".
func zoneOf(region, given string) string {
	if given != "" {
		return given
	}
	return region + "a"
}

// tagID is a stable number for a tag (KEC's TagId): the same key and value
// always get the same id.
func tagID(key, value string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key + "\x00" + value))
	return int64(h.Sum64() & 0x7fffffff)
}

// copyTags copies a tag map; nil for none.
func copyTags(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// hasTags reports whether every key of want is among tags with that value.
func hasTags(tags, want map[string]string) bool {
	for k, v := range want {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// parseTagPairs reads "k=v" strings (ECS's tags filter and answers).
func parseTagPairs(pairs []string) map[string]string {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		out[k] = v
	}
	return out
}

// seedLogin makes the key pairs a plan's login names known to the cloud, so
// that pre-flight finds them; s.mu must be held.
func (s *Server) seedLogin(provider string, in *plan.Instance) {
	s.cat.init()
	if in.Options == nil {
		return
	}
	for _, k := range in.Options.Keys() {
		switch provider {
		case Ksyun:
			if _, ok := s.cat.kecKeys[k]; !ok {
				s.cat.kecKeys[k] = "key-" + k[:min(8, len(k))]
			}
		case HuaweiCloud:
			s.cat.ecsKeys[k] = true
		}
	}
}
