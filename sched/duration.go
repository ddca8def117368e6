package sched

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string such
// as "5s", "250ms" or "1m30s". Numbers are rejected so that a bare 5 is never
// read as five nanoseconds. It marshals back in canonical form ("1m30s"), so
// "90s" and "1m30s" give the same Spec.Version.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns the canonical form, such as "5s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON encodes d as its canonical string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON decodes a duration string. If the JSON is not a string or
// the string is not a valid duration it returns a *json.UnmarshalTypeError,
// which the decoder completes with the field's path
// ("restart.delay").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{
			Value: fmt.Sprintf("%s (a duration is a string such as \"5s\")", b),
			Type:  reflect.TypeFor[Duration](),
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{
			Value: fmt.Sprintf("%s (%v)", strconv.Quote(s), err),
			Type:  reflect.TypeFor[Duration](),
		}
	}
	*d = Duration(v)
	return nil
}
