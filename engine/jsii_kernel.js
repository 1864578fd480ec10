// The jsii kernel in one Node process (see engine/fast_runtime.py, run_jsii_kernel_directly).
//
// jsii's own entry point, bin/jsii-runtime.js, starts a second Node process running lib/program.js and relays every
// API message between Python (its stdin/stdout) and that child (the child's fd 3). Here program.js runs in this
// process instead, and its reads and writes of fd 3 go to stdin and stdout, so each message is one pipe hop, not
// three.
"use strict";
const fs = require("fs");

const API_FD = 3;
// fd 3 must never be a file the kernel opens later (its reads would be answered from stdin): hold it if it is free.
try {
  fs.fstatSync(API_FD);
} catch {
  fs.openSync("/dev/null", "r");
}

const { readSync, writeSync } = fs;
fs.readSync = function (fd, ...rest) {
  return readSync.call(fs, fd === API_FD ? 0 : fd, ...rest);
};
fs.writeSync = function (fd, ...rest) {
  return writeSync.call(fs, fd === API_FD ? 1 : fd, ...rest);
};
// Console output goes to stderr. process.stdout is replaced before anything creates it: creating it would switch fd 1
// to non-blocking mode, and the kernel then sleeps and retries (up to 10 ms at a time) whenever the pipe is full,
// which a large response (a whole chart's objects) always fills.
Object.defineProperty(process, "stdout", { configurable: true, enumerable: true, get: () => process.stderr });

require(process.env.JSII_KERNEL_PROGRAM);
