package dns

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
)

// Internal outcomes of a lookup, mapped to response codes by rcodeFor.
var (
	// errNameNotFound: the name does not exist (NXDOMAIN, SOA in authority).
	errNameNotFound = errors.New("dns: name not found")
	// errNoData: the name exists but has no record of the asked type
	// (NOERROR, empty answer, SOA in authority: RFC 2308 section 2.2).
	errNoData = errors.New("dns: no data")
)

// kind is what a name under the domain asks for.
type kind uint8

const (
	kindApex    kind = iota + 1 // the domain itself
	kindService                 // [tag.]name.service / _name._tag.service
	kindNode                    // name.node
	kindAddr                    // hex.addr
	kindQuery                   // name.query (a prepared query)
	kindVirtual                 // name.virtual: a service's virtual IP
)

// query is a parsed name under one of the served domains.
type query struct {
	kind kind
	// dc is the datacenter named in the query; "" means the local one.
	dc      string
	service string
	tag     string
	node    string
	addr    netip.Addr
}

// splitDomain finds which served domain lname (lower case, fully
// qualified) is under. It returns the domain and the labels before it
// (without the dot), or ok=false for names outside the served domains.
func (s *Server) splitDomain(lname string) (domain, rest string, ok bool) {
	// The longer domain first, in case one is a suffix of the other.
	for _, d := range s.domains {
		if lname == d {
			return d, "", true
		}
		if len(lname) > len(d) && strings.HasSuffix(lname, d) && lname[len(lname)-len(d)-1] == '.' {
			return d, lname[:len(lname)-len(d)-1], true
		}
	}
	return "", "", false
}

// parseQuery parses the labels before the domain (lower case). srv allows
// the RFC 2782 form without the "service" label (_web._tcp.consul), as
// Consul does for SRV questions.
func parseQuery(rest string, srv bool) (query, error) {
	if rest == "" {
		return query{kind: kindApex}, nil
	}
	labels := strings.Split(rest, ".")
	var (
		k        kind
		parts    []string
		suffixes []string
	)
	for i := len(labels) - 1; i >= 0 && k == 0; i-- {
		switch labels[i] {
		case "service":
			k, parts, suffixes = kindService, labels[:i], labels[i+1:]
		case "node":
			k, parts, suffixes = kindNode, labels[:i], labels[i+1:]
		case "addr":
			k, parts, suffixes = kindAddr, labels[:i], labels[i+1:]
		case "query":
			k, parts, suffixes = kindQuery, labels[:i], labels[i+1:]
		case "virtual":
			k, parts, suffixes = kindVirtual, labels[:i], labels[i+1:]
		default:
			if srv && strings.HasPrefix(labels[i], "_") {
				k, parts, suffixes = kindService, labels[:i+1], labels[i+1:]
			}
		}
	}
	if k == 0 || len(parts) == 0 {
		return query{}, errNameNotFound
	}
	q := query{kind: k}
	switch {
	case len(suffixes) == 0:
	case len(suffixes) == 1 && suffixes[0] != "":
		q.dc = suffixes[0]
	case len(suffixes) == 2 && suffixes[1] == "dc" && suffixes[0] != "":
		q.dc = suffixes[0] // <dc>.dc, Consul's explicit form
	default:
		return query{}, errNameNotFound
	}
	switch k {
	case kindService:
		n := len(parts)
		if n == 2 && strings.HasPrefix(parts[0], "_") && strings.HasPrefix(parts[1], "_") {
			// RFC 2782: _service._proto or _service._tag; _tcp means any.
			q.service, q.tag = parts[0][1:], parts[1][1:]
			if q.tag == "tcp" {
				q.tag = ""
			}
		} else {
			// tag.service; a tag may itself contain dots.
			q.service = parts[n-1]
			q.tag = strings.Join(parts[:n-1], ".")
		}
		if q.service == "" {
			return query{}, errNameNotFound
		}
	case kindNode:
		q.node = strings.Join(parts, ".") // node names may contain dots
	case kindQuery:
		q.service = strings.Join(parts, ".") // the query's name or ID
	case kindVirtual:
		if len(parts) != 1 || parts[0] == "" {
			return query{}, errNameNotFound
		}
		q.service = parts[0]
	case kindAddr:
		if len(parts) != 1 {
			return query{}, errNameNotFound
		}
		b, err := hex.DecodeString(parts[0])
		if err != nil {
			return query{}, errNameNotFound
		}
		var ok bool
		switch len(b) {
		case 4, 16:
			q.addr, ok = netip.AddrFromSlice(b)
		}
		if !ok {
			return query{}, errNameNotFound
		}
	}
	return q, nil
}

// ipFromARPA parses a reverse-lookup name (lower case, fully qualified):
// d.c.b.a.in-addr.arpa. or 32 nibbles of ip6.arpa.
func ipFromARPA(lname string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(lname, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, 3; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		a, err := netip.ParseAddr(strings.Join(labels, "."))
		return a, err == nil && a.Is4()
	}
	if rest, ok := strings.CutSuffix(lname, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var nibbles [32]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			nibbles[31-i] = l[0]
		}
		b, err := hex.DecodeString(string(nibbles[:]))
		if err != nil {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}
