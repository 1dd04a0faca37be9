package main

import (
	"reflect"
	"testing"
)

func TestParsePIDs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"", nil, true},
		{"42", []int{42}, true},
		{"1, 2,3,", []int{1, 2, 3}, true},
		{"x", nil, false},
		{"0", nil, false},
		{"-3", nil, false},
	} {
		got, err := parsePIDs(c.in)
		if (err == nil) != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parsePIDs(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestEndpoints(t *testing.T) {
	o := options{endpoint: "https://a:1, https://b:2,"}
	if got := o.endpoints(); !reflect.DeepEqual(got, []string{"https://a:1", "https://b:2"}) {
		t.Errorf("endpoints = %q", got)
	}
	o.endpoint = ""
	if got := o.endpoints(); len(got) != 1 {
		t.Errorf("empty -endpoint gave %q", got)
	}
}
