#!/bin/sh
# First boot of a web server: announce the new image.
logger "reimage: web image ready"
