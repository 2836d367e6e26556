package cli

import "testing"

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"version", []string{"version"}, ExitOK},
		{"unknown flag", []string{"version", "--no-such-flag"}, ExitUsage},
		{"unknown command", []string{"no-such-command"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Main(tt.args); got != tt.want {
				t.Fatalf("Main(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
