package platform

import "testing"

func TestPublishHost(t *testing.T) {
	tests := []struct{ daemon, want string }{
		{"unix:///var/run/docker.sock", "127.0.0.1"},
		{"tcp://10.0.0.5:2375", "10.0.0.5"},
		{"https://docker.example:2376", "docker.example"},
		{"npipe:////./pipe/docker_engine", "127.0.0.1"},
		{"", "127.0.0.1"},
	}
	for _, tt := range tests {
		if got := publishHost(tt.daemon); got != tt.want {
			t.Errorf("publishHost(%q) = %q, want %q", tt.daemon, got, tt.want)
		}
	}
}
