package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers"
	"github.com/reimage-dev/reimage/schema"
	"gopkg.in/yaml.v3"
)

// DiscoverCommand prints a plan of the instances a cloud lists: the starting
// point a user edits.
type DiscoverCommand struct{}

// Name implements Command.
func (DiscoverCommand) Name() string { return "discover" }

// Synopsis implements Command.
func (DiscoverCommand) Synopsis() string {
	return "print a plan of the instances a cloud lists (current image as target), to edit"
}

// tagFlags is the repeatable -tag K=V flag.
type tagFlags map[string]string

func (t tagFlags) String() string { return formatTags(t) }

func (t tagFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, found %q", s)
	}
	if old, dup := t[k]; dup && old != v {
		return fmt.Errorf("tag %q given twice (%q and %q); an instance has one value per key", k, old, v)
	}
	t[k] = v
	return nil
}

func formatTags(t map[string]string) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + t[k]
	}
	return strings.Join(parts, ",")
}

// discoverFlags are discover's flags.
type discoverFlags struct {
	typ, region, project, endpoint, simURL string
	tags                                   tagFlags
	name, zone                             string
	planName, providerName, schemaRef      string
}

// Run implements Command.
func (c DiscoverCommand) Run(ctx context.Context, args []string, stdio Stdio) error {
	df := discoverFlags{tags: tagFlags{}}
	fs := newFlagSet(c.Name(), "discover -provider TYPE -region REGION [flags]", `
Lists the instances of one cloud account in one region that match the filters (all given
filters must match) and prints a plan of them on stdout: every instance with its current
image as its target, so that the plan changes nothing until you edit the image. Names of
instances and images are kept where the cloud gives them. Exits 1 when nothing matches.
Credentials come from the cloud's usual variables (`+credentialVars(",\n", false)+`).

Examples:
`+discoverExamples(), stdio)
	fs.StringVar(&df.typ, "provider", "", "cloud `TYPE`: "+providers.TypeList()+" (required)")
	fs.StringVar(&df.region, "region", "", "`REGION` id, like "+regionExamples()+" (required)")
	fs.StringVar(&df.project, "project", "", "project `ID` of the region (required for "+projectTypes()+"; with -sim-url, default the simulator's, from the variable reimage sim prints)")
	fs.StringVar(&df.endpoint, "endpoint", "", "the cloud's API base `URL` (default its regional endpoint); written into the plan")
	fs.StringVar(&df.simURL, "sim-url", "", "list from a simulator running at `URL` (reimage sim) instead of the cloud")
	fs.Var(df.tags, "tag", "only instances with tag `KEY=VALUE` (repeatable: all must match)")
	fs.StringVar(&df.name, "name", "", "only instances whose name matches the `GLOB` (* ? [a-z])")
	fs.StringVar(&df.zone, "zone", "", "only instances in availability `ZONE`")
	fs.StringVar(&df.planName, "plan-name", "discovered", "the `NAME` of the printed plan (names its journal and metrics)")
	fs.StringVar(&df.providerName, "provider-name", "", "the provider's `NAME` in the printed plan (default TYPE-REGION)")
	fs.StringVar(&df.schemaRef, "schema", schema.ID, "`PATH or URL` of plan.schema.json for the yaml-language-server comment")
	var lf logFlags
	lf.register(fs, "warn")
	if err := parseFlags(fs, args, stdio); err != nil {
		return err
	}
	logger, err := lf.logger(c.Name(), stdio.Err)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(c.Name(), "unexpected argument %q: discover takes flags only", fs.Arg(0))
	}
	pp, err := df.provider()
	if err != nil {
		return err
	}
	found, images, err := df.discover(ctx, pp, logger)
	if err != nil {
		return err
	}
	return writeDiscovered(stdio.Out, df, pp, found, images)
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// provider checks the flags and returns the plan's provider they describe.
func (df *discoverFlags) provider() (*plan.Provider, error) {
	const cmd = "discover"
	driver, known := providers.Lookup(df.typ)
	switch {
	case df.typ == "":
		return nil, usagef(cmd, "-provider is required: %s", providers.TypeList())
	case !known:
		return nil, usagef(cmd, "-provider %q: want %s", df.typ, providers.TypeList())
	}
	if df.region == "" {
		return nil, usagef(cmd, "-region is required")
	}
	if driver.NeedsProject && df.project == "" && df.simURL != "" && driver.SimProjectEnv != "" {
		// The simulator's project, as reimage sim prints it with the credentials.
		df.project = os.Getenv(driver.SimProjectEnv)
	}
	switch {
	case driver.NeedsProject && df.project == "" && df.simURL != "" && driver.SimProjectEnv != "":
		return nil, usagef(cmd, "-project is required for %s (the project id of the region), or %s as reimage sim prints it", df.typ, driver.SimProjectEnv)
	case driver.NeedsProject && df.project == "":
		return nil, usagef(cmd, "-project is required for %s (the project id of the region)", df.typ)
	case !driver.NeedsProject && df.project != "":
		return nil, usagef(cmd, "-project is only for %s", projectTypes())
	}
	if df.name != "" {
		if err := (plan.Targeting{Include: []string{df.name}}).Check(); err != nil {
			return nil, usagef(cmd, "-name: %v", strings.TrimPrefix(err.Error(), "-target "))
		}
	}
	if df.endpoint != "" && df.simURL != "" {
		return nil, usagef(cmd, "-endpoint and -sim-url exclude each other")
	}
	if df.providerName == "" {
		df.providerName = strings.ToLower(df.typ + "-" + df.region)
	}
	for flagName, v := range map[string]string{"-provider-name": df.providerName, "-plan-name": df.planName} {
		if !namePattern.MatchString(v) {
			return nil, usagef(cmd, "%s %q: use lowercase letters, digits and '-', at most 63 characters, not starting with '-'", flagName, v)
		}
	}
	pp := &plan.Provider{Name: df.providerName, Type: df.typ, Region: df.region, Endpoint: df.endpoint,
		Limits: plan.Limits{RequestsPerSecond: plan.DefaultRequestsPerSecond}}
	if df.project != "" {
		pp.Settings = map[string]string{providers.ProjectSetting: df.project}
	}
	return pp, nil
}

// discover lists the matching instances and what the cloud says of their images.
func (df *discoverFlags) discover(ctx context.Context, pp *plan.Provider, logger *slog.Logger) ([]providers.Instance, map[string]providers.Image, error) {
	cfg := providers.Config{Name: pp.Name, Region: pp.Region, Endpoint: pp.Endpoint, Settings: pp.Settings,
		RequestsPerSecond: pp.Limits.RequestsPerSecond, Logger: logger}
	var err error
	if df.simURL != "" {
		cfg.Endpoint = df.simURL
		if cfg.AccessKey, cfg.SecretKey, err = providers.SimCredentials(pp.Type); err != nil {
			err = fmt.Errorf("-sim-url: %w", err)
		}
	} else if cfg.AccessKey, cfg.SecretKey, err = providers.ResolveCredentials(pp); err != nil {
		err = fmt.Errorf("provider %s: %w", pp.Name, err)
	}
	if err != nil {
		return nil, nil, err
	}
	prov, closeFn, err := providers.Open(pp.Type, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer closeFn()
	lister, ok := prov.(providers.Lister)
	if !ok {
		return nil, nil, fmt.Errorf("the %s client cannot list instances", pp.Type)
	}
	found, err := lister.List(ctx, providers.Filter{Tags: df.tags, Name: df.name, Zone: df.zone})
	if err != nil {
		return nil, nil, fmt.Errorf("list instances: %w", err)
	}
	if len(found) == 0 {
		return nil, nil, fmt.Errorf("no instance of %s %s matches %s", pp.Type, pp.Region, df.filterWords())
	}
	images := map[string]providers.Image{}
	if pf, ok := prov.(providers.Preflighter); ok {
		var ids []string
		seen := map[string]bool{}
		for _, in := range found {
			if in.Image != "" && !seen[in.Image] {
				seen[in.Image] = true
				ids = append(ids, in.Image)
			}
		}
		sort.Strings(ids)
		// Image names only make the plan easier to read: without them it is as valid.
		if images, err = pf.Images(ctx, ids); err != nil {
			logger.Warn("image names not looked up", "err", err)
			images = map[string]providers.Image{}
		}
	}
	return found, images, nil
}

// filterWords renders the filters for people and for the plan's comment.
func (df *discoverFlags) filterWords() string {
	var parts []string
	if len(df.tags) > 0 {
		parts = append(parts, "tags "+formatTags(df.tags))
	}
	if df.name != "" {
		parts = append(parts, "name "+strconv.Quote(df.name))
	}
	if df.zone != "" {
		parts = append(parts, "zone "+df.zone)
	}
	if len(parts) == 0 {
		return "(no filter: every instance)"
	}
	return strings.Join(parts, ", ")
}

// writeDiscovered prints the plan. The most common current image becomes the
// default; instances on another image name theirs. Every value is quoted as
// YAML needs it, since names come from the cloud and may hold anything.
func writeDiscovered(w io.Writer, df discoverFlags, pp *plan.Provider, found []providers.Instance, images map[string]providers.Image) error {
	sort.Slice(found, func(i, j int) bool {
		if found[i].Name != found[j].Name {
			return found[i].Name < found[j].Name
		}
		return found[i].ID < found[j].ID
	})
	perImage := map[string]int{}
	for _, in := range found {
		perImage[in.Image]++
	}
	common := ""
	for img, n := range perImage {
		if n > perImage[common] || (n == perImage[common] && img < common) {
			common = img
		}
	}
	imageComment := func(id string) string {
		if im, ok := images[id]; ok && im.Name != "" {
			return "  # " + oneLine(im.Name)
		}
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# yaml-language-server: $schema=%s\n#\n", df.schemaRef)
	fmt.Fprintf(&b, "# %d instances of %s %s discovered by reimage discover, matching %s.\n", len(found), pp.Type, pp.Region, oneLine(df.filterWords()))
	b.WriteString("# Every instance has its current image as its target: this plan changes nothing until you\n")
	b.WriteString("# edit the image (in defaults for all, or on an instance). Set the login the new system gets.\n")
	b.WriteString("version: 1\n")
	fmt.Fprintf(&b, "name: %s\n", df.planName)
	b.WriteString("providers:\n")
	fmt.Fprintf(&b, "  %s:\n    type: %s\n    region: %s\n", pp.Name, pp.Type, yamlString(pp.Region))
	for _, k := range slices.Sorted(maps.Keys(pp.Settings)) {
		fmt.Fprintf(&b, "    %s: %s\n", k, yamlString(pp.Settings[k]))
	}
	if pp.Endpoint != "" {
		fmt.Fprintf(&b, "    endpoint: %s\n", yamlString(pp.Endpoint))
	}
	b.WriteString("defaults:\n")
	fmt.Fprintf(&b, "  image: %s%s\n", yamlString(common), imageComment(common))
	b.WriteString("  # The login after a change; a password is read from the variable when it is needed.\n")
	if d, _ := providers.Lookup(pp.Type); d.OtherLogins != "" {
		fmt.Fprintf(&b, "  # Or: %s.\n", d.OtherLogins)
	}
	b.WriteString("  login: {password: {env: REIMAGE_LOGIN_PASSWORD}}\n")
	b.WriteString("instances:\n")
	for _, in := range found {
		fmt.Fprintf(&b, "  - id: %s\n", yamlString(in.ID))
		if in.Name != "" {
			fmt.Fprintf(&b, "    name: %s\n", yamlString(in.Name))
		}
		if in.Image != common {
			fmt.Fprintf(&b, "    image: %s%s\n", yamlString(in.Image), imageComment(in.Image))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// yamlString renders s as a YAML scalar that reads back as the same string:
// plain when it is a simple word that YAML reads as a string (not a number,
// boolean or date), double-quoted otherwise.
func yamlString(s string) string {
	if plainYAML.MatchString(s) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(s), &n) == nil && len(n.Content) == 1 &&
			n.Content[0].ShortTag() == "!!str" && n.Content[0].Value == s {
			return s
		}
	}
	return quoted(s)
}

var plainYAML = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)

// quoted is s in YAML double quotes, with the escapes YAML and JSON share.
func quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// oneLine keeps a comment on its line whatever a cloud's name holds.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}
