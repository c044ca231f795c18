package ksyun

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/reimage-dev/reimage/plan"
	"github.com/reimage-dev/reimage/providers/internal/cloudid"
)

// planSchema is KEC's fragment of the plan schema: its login forms, system
// disk and user data.
//
//go:embed plan.schema.json
var planSchema []byte

// MaxUserData is the most user data KEC takes, decoded.
const MaxUserData = 16 << 10

// PlanCloud is what a plan may say only of KEC instances; Driver carries it.
var PlanCloud = plan.Cloud{
	Type:            Type,
	Short:           "KEC",
	InstanceFields:  []string{"systemDisk", "userData"},
	LoginForms:      []plan.LoginForm{{Field: "keyIds"}, {Field: "keepImageLogin", OnlyTrue: true}},
	EndpointExample: "https://kec.api.ksyun.com",
	Decode:          decodeOptions,
	InstanceID:      cloudid.UUID,
	ImageID:         cloudid.UUID,
	Schema:          planSchema,
}

// Options are a KEC instance's options in a plan, which the client reads
// from ChangeRequest.Options: a login by key pairs or the image's own, the
// system disk and the user data.
type Options struct {
	// KeyIDs are the SSH key pairs to bind (at most 10).
	KeyIDs []string
	// KeepImageLogin keeps the login settings of a custom image.
	KeepImageLogin bool
	SystemDisk     *SystemDisk
	UserData       *UserData
}

// SystemDisk is the system disk configuration of ModifyInstanceImage.
type SystemDisk struct {
	SizeGB int
	Type   string
	Resize string // "online" | "offline" | ""
}

// UserData is exactly one of File (read when the plan is loaded, into
// Base64) or Base64.
type UserData struct {
	File   string
	Base64 string
}

var _ plan.Options = (*Options)(nil)

// Keys are the key pair ids the login binds.
func (o *Options) Keys() []string { return o.KeyIDs }

// CheckImage refuses a system disk smaller than the image needs.
func (o *Options) CheckImage(image string, minDiskGB int) string {
	if d := o.SystemDisk; d != nil && d.SizeGB > 0 && minDiskGB > d.SizeGB {
		return fmt.Sprintf("systemDisk.sizeGB %d is smaller than target image %s needs (%d GB)", d.SizeGB, image, minDiskGB)
	}
	return ""
}

// SpecParts writes the fields in the places format version 1 gave them
// (a Huawei-only byol before the password, its key name and user after).
func (o *Options) SpecParts() (before, after string) {
	after = fmt.Sprintf("\x00keys=%q\x00keep=%t\x00keyname=\x00user=", o.KeyIDs, o.KeepImageLogin)
	if d := o.SystemDisk; d != nil {
		after += fmt.Sprintf("\x00disk=%d/%s/%s", d.SizeGB, d.Type, d.Resize)
	}
	if u := o.UserData; u != nil {
		after += "\x00userdata=" + plan.Sum([]byte(u.Base64))
	}
	return "byol=false\x00", after
}

// OptionsOf returns the KEC options of a change request; the zero Options
// when it has none.
func OptionsOf(opts plan.Options) *Options {
	if o, ok := opts.(*Options); ok && o != nil {
		return o
	}
	return &Options{}
}

func decodeOptions(f plan.OptionFields) plan.Options {
	o := &Options{KeyIDs: f.Login("keyIds").Texts()}
	o.KeepImageLogin, _ = f.Login("keepImageLogin").Bool()
	if v := f.Field("systemDisk"); v.IsMapping() {
		sd := &SystemDisk{}
		sd.SizeGB, _ = v.Get("sizeGB").Int()
		sd.Type, _ = v.Get("type").Text()
		sd.Resize, _ = v.Get("resize").Text()
		o.SystemDisk = sd
	}
	if v := f.Field("userData"); v.IsMapping() {
		o.UserData = userDataOf(v)
	}
	return o
}

// userDataOf decodes userData and checks it fits KEC's limit. A file is read
// now, at load time, so that a missing file fails validate rather than
// instance 4,000 of an apply.
func userDataOf(v plan.Field) *UserData {
	if b := v.Get("base64"); b.Present() {
		s, ok := b.Text()
		if !ok {
			return nil
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			b.Errorf("not valid base64: %v", strings.TrimPrefix(err.Error(), "illegal base64 data "))
			return nil
		}
		if len(raw) > MaxUserData {
			b.Errorf("user data is %d bytes decoded; KEC takes at most 16 KiB (16384 bytes)", len(raw))
			return nil
		}
		return &UserData{Base64: s}
	}
	fv := v.Get("file")
	file, ok := fv.Text()
	if !ok || file == "" {
		return nil
	}
	resolved := fv.Resolve(file)
	r := fv.Once("ksyun userData "+resolved, func() any { return readUserData(resolved) }).(userDataResult)
	if r.err != "" {
		fv.Errorf("%s", r.err)
		return nil
	}
	return &UserData{File: file, Base64: r.base64}
}

type userDataResult struct {
	base64 string
	err    string
}

func readUserData(path string) userDataResult {
	f, err := os.Open(path)
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	// Devices and pipes could block or never end; user data is a file.
	if !fi.Mode().IsRegular() {
		return userDataResult{err: fmt.Sprintf("user data %s is not a regular file", path)}
	}
	if fi.Size() > MaxUserData {
		return userDataResult{err: fmt.Sprintf("user data %s is %d bytes; KEC takes at most 16 KiB (16384 bytes)", path, fi.Size())}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxUserData+1))
	if err != nil {
		return userDataResult{err: "cannot read user data: " + err.Error()}
	}
	if len(data) > MaxUserData {
		return userDataResult{err: fmt.Sprintf("user data %s is larger than 16 KiB (16384 bytes), the most KEC takes", path)}
	}
	return userDataResult{base64: base64.StdEncoding.EncodeToString(data)}
}
