package plan

import (
	"testing"
	"time"
)

func TestWindowOpen(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	night := &Window{Days: []time.Weekday{time.Monday}, Start: ClockTime{22, 0}, End: ClockTime{5, 0}, Location: sh, TimeZone: "Asia/Shanghai"}
	early := &Window{Start: ClockTime{1, 0}, End: ClockTime{5, 0}, Location: ny, TimeZone: "America/New_York"}
	at := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name    string
		w       *Window
		t       time.Time
		open    bool
		closeAt time.Time
	}{
		// 2026-11-30 is a Monday.
		{"monday night, inside", night, at(sh, "2026-11-30 23:10"), true, at(sh, "2026-12-01 05:00")},
		{"after midnight belongs to monday's window", night, at(sh, "2026-12-01 04:59"), true, at(sh, "2026-12-01 05:00")},
		{"end is exclusive", night, at(sh, "2026-12-01 05:00"), false, time.Time{}},
		{"tuesday night is not a window day", night, at(sh, "2026-12-01 23:00"), false, time.Time{}},
		{"before start", night, at(sh, "2026-11-30 21:59"), false, time.Time{}},
		{"same instant in UTC", night, at(time.UTC, "2026-11-30 15:30"), true, at(sh, "2026-12-01 05:00")},
		// DST in New York: 2026-03-08 02:00 springs to 03:00; the window is 4 hours of wall time
		// minus the skipped hour: it ends at 05:00 EDT = 09:00 UTC, not 10:00 UTC.
		{"spring forward: end in local time", early, at(time.UTC, "2026-03-08 08:59"), true, at(time.UTC, "2026-03-08 09:00")},
		{"spring forward: closed at local 05:00", early, at(time.UTC, "2026-03-08 09:00"), false, time.Time{}},
		// In winter the same window closes at 10:00 UTC.
		{"winter: open at 09:30 UTC", early, at(time.UTC, "2026-01-08 09:30"), true, at(time.UTC, "2026-01-08 10:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open, end := tt.w.Open(tt.t)
			if open != tt.open || !end.Equal(tt.closeAt) {
				t.Errorf("Open(%s) = %v, %s; want %v, %s", tt.t, open, end, tt.open, tt.closeAt)
			}
		})
	}
	if next := night.Next(at(sh, "2026-12-01 06:00")); !next.Equal(at(sh, "2026-12-07 22:00")) {
		t.Errorf("Next = %s, want next Monday 22:00", next)
	}
}

func TestParseExpectation(t *testing.T) {
	tests := []struct {
		in      string
		want    Expectation
		wantErr bool
	}{
		{"empty", Expectation{Empty: true}, false},
		{"< 1", Expectation{Op: "<", Value: 1}, false},
		{"<=0.5", Expectation{Op: "<=", Value: 0.5}, false},
		{"!= 0", Expectation{Op: "!=", Value: 0}, false},
		{">= -2", Expectation{Op: ">=", Value: -2}, false},
		{"about 1", Expectation{}, true},
		{"< 1 2", Expectation{}, true},
		{"<", Expectation{}, true},
	}
	for _, tt := range tests {
		got, err := ParseExpectation(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseExpectation(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTemplateRender(t *testing.T) {
	tm, err := ParseTemplate("http://{{.PrivateIP}}:8080/{{.Name}}?id={{.ID}}&p={{.Provider}}&i={{.Image}}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Render(TemplateVars{ID: "i-1", Name: "web-1", Provider: "kec", PrivateIP: "10.0.0.7", Image: "img"})
	if want := "http://10.0.0.7:8080/web-1?id=i-1&p=kec&i=img"; err != nil || got != want {
		t.Errorf("Render = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"{{.PrivateIp}}", "{{.ID", "{{template \"x\"}}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted it", bad)
		}
	}
}
