package server

import (
	"testing"

	"github.com/hashicorp/serf/serf"
)

func TestRoleFor(t *testing.T) {
	member := func(name string, status serf.MemberStatus, tags map[string]string) serf.Member {
		return serf.Member{Name: name, Status: status, Tags: tags}
	}
	current := map[string]string{"role": RoleTagServer, "shoal_vsn": "2"}
	currentInLegacyMode := map[string]string{"role": roleTagLegacyServer, "shoal_vsn": "2"}
	older := map[string]string{"role": roleTagLegacyServer, "vsn": "1"} // a server before 25fbb37
	client := map[string]string{"role": RoleTagClient, "shoal_vsn": "2"}
	cases := []struct {
		name    string
		members []serf.Member
		want    string
	}{
		{"alone", []serf.Member{member("me", serf.StatusAlive, current)}, RoleTagServer},
		{"current servers and a client", []serf.Member{
			member("me", serf.StatusAlive, current), member("b", serf.StatusAlive, current), member("c", serf.StatusAlive, client),
		}, RoleTagServer},
		{"an older server alive", []serf.Member{
			member("me", serf.StatusAlive, current), member("old", serf.StatusAlive, older),
		}, roleTagLegacyServer},
		// Another upgraded server that advertises role=server is not an
		// older one: otherwise two of them would keep each other in that
		// mode after the last older server is gone.
		{"only upgraded servers in legacy mode", []serf.Member{
			member("me", serf.StatusAlive, currentInLegacyMode), member("b", serf.StatusAlive, currentInLegacyMode),
		}, RoleTagServer},
		{"the older server left", []serf.Member{
			member("me", serf.StatusAlive, currentInLegacyMode), member("old", serf.StatusLeft, older),
		}, RoleTagServer},
		{"the older server failed", []serf.Member{
			member("me", serf.StatusAlive, current), member("old", serf.StatusFailed, older),
		}, RoleTagServer},
		{"itself is not counted", []serf.Member{member("me", serf.StatusAlive, older)}, RoleTagServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := roleFor("me", tc.members); got != tc.want {
				t.Fatalf("roleFor = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTouchesOlderServer(t *testing.T) {
	older := serf.Member{Name: "old", Tags: map[string]string{"role": roleTagLegacyServer, "vsn": "1"}}
	upgradedInLegacyMode := serf.Member{Name: "b", Tags: map[string]string{"role": roleTagLegacyServer, "shoal_vsn": "2"}}
	client := serf.Member{Name: "c", Tags: map[string]string{"role": RoleTagClient, "shoal_vsn": "2"}}
	for _, tc := range []struct {
		name    string
		members []serf.Member
		want    bool
	}{
		{"an older server among others", []serf.Member{client, older}, true},
		{"current members only", []serf.Member{client, upgradedInLegacyMode}, false},
		{"none", nil, false},
	} {
		if got := touchesOlderServer(tc.members); got != tc.want {
			t.Errorf("%s: touchesOlderServer = %v, want %v", tc.name, got, tc.want)
		}
	}
}
