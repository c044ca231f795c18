package main

// The clouds reimage speaks: registered here, named nowhere else in the
// command line.
import _ "github.com/reimage-dev/reimage/providers/drivers"
