package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The simulator's model of what the clouds know besides instances: image
// details (names, states, minimum disks), tags, metadata, zones and private
// addresses; key pairs are each front-end's. Existence of an image stays in
// Server.images (what a change checks); catalog holds what pre-flight reads
// about it.

// Image describes one catalogued image (AddImageInfo). Fields left empty get
// defaults derived from the id: an active Linux image named after its id.
type Image struct {
	Provider string
	ID       string
	Name     string
	// State is the cloud's state of the image ("active", …); "" = active.
	State string
	// Platform is the cloud's platform or OS name; "" = the front-end's default.
	Platform string
	// MinDiskGB is the smallest system disk the image fits; 0 = the
	// front-end's default.
	MinDiskGB int
	// EnvType is the kind of image for clouds that tell system disk images
	// from others; "" = the front-end's default (see Frontend.RefuseImage).
	EnvType string
}

// KeyPair is a key pair of one cloud (AddKeyPair), known by id, by name or
// both, as the cloud knows key pairs.
type KeyPair struct {
	Provider string
	ID       string
	Name     string
}

// catalog is guarded by Server.mu.
type catalog struct {
	images map[string]map[string]*Image // provider type -> image id -> details
	// ipSeq numbers private addresses across every cloud, so that each is unique.
	ipSeq int
}

func (c *catalog) init() {
	if c.images == nil {
		c.images = map[string]map[string]*Image{}
	}
}

// AddImageInfo catalogues an image with its details (and makes it known, as
// AddImage does).
func (s *Server) AddImageInfo(img Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[img.Provider] == nil {
		return fmt.Errorf("sim: image %s: provider type %q is not simulated (want %s)", img.ID, img.Provider, s.typeList())
	}
	s.images[img.Provider][img.ID] = true
	c := img
	s.cat.of(img.Provider)[img.ID] = &c
	return nil
}

// of returns the image details of a provider type.
func (c *catalog) of(providerType string) map[string]*Image {
	c.init()
	m := c.images[providerType]
	if m == nil {
		m = map[string]*Image{}
		c.images[providerType] = m
	}
	return m
}

// AddKeyPair makes a key pair known to its cloud.
func (s *Server) AddKeyPair(k KeyPair) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.byType[k.Provider]
	if !ok {
		return fmt.Errorf("sim: key pair: provider type %q is not simulated (want %s)", k.Provider, s.typeList())
	}
	return f.AddKeyPair(k)
}

// CatalogImage returns what the cloud reports of an image, nil when it does
// not know it (never catalogued, or made missing by Options.MissingImages);
// core locked.
func (s *Server) CatalogImage(provider, id string) *Image {
	f := s.byType[provider]
	if f == nil || !s.images[provider][id] || slices.Contains(s.opts.MissingImages, id) {
		return nil
	}
	img := Image{Provider: provider, ID: id}
	if c := s.cat.of(provider)[id]; c != nil {
		img = *c
	}
	if img.Name == "" {
		img.Name = "image-" + id[:min(8, len(id))]
	}
	unusable := slices.Contains(s.opts.UnusableImages, id)
	if img.State == "" {
		img.State = "active"
	}
	f.ImageDefaults(&img, unusable)
	return &img
}

// ImageRefusal says why a change to image id must be refused ("" when it may
// go ahead): the image is unknown or missing, or not in a usable state; s.mu
// must be held.
func (s *Server) ImageRefusal(provider, id string) string {
	img := s.CatalogImage(provider, id)
	switch {
	case img == nil:
		return "does not exist"
	case img.State != "active":
		return "is in state " + img.State
	}
	return s.byType[provider].RefuseImage(img)
}

// ImagesOf returns every image the cloud reports for provider, by id; s.mu
// must be held.
func (s *Server) ImagesOf(provider string) []*Image {
	ids := slices.Sorted(maps.Keys(s.images[provider]))
	out := make([]*Image, 0, len(ids))
	for _, id := range ids {
		if img := s.CatalogImage(provider, id); img != nil {
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

// CopyTags copies a tag map; nil for none.
func CopyTags(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// HasTags reports whether every key of want is among tags with that value.
func HasTags(tags, want map[string]string) bool {
	for k, v := range want {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ParseTagPairs reads "k=v" strings (tags as some clouds write them).
func ParseTagPairs(pairs []string) map[string]string {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		out[k] = v
	}
	return out
}
