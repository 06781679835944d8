// Drives StatHat's npm module (`stathat` 0.0.8) unchanged: it hard-codes api.stathat.com
// (port 80, or 443 with useHTTPS), so only where its requests go is changed, by wrapping
// http.request and https.request, which the module looks up at each call.
//
//   node stathat_npm.js MODULE_DIR TARGET_URL CALLS_JSON
//
// CALLS_JSON is a list of [method, arg, ...] run one after another, each given a callback.
// Prints a JSON list, one entry per call: the callbacks' [status, body] pairs in order
// (the module calls back once per body chunk; never when the answer has no body).
'use strict';
const http = require('http');
const https = require('https');
const path = require('path');

const [moduleDir, target, callsJson] = process.argv.slice(2);
const url = new URL(target);
const port = url.port || (url.protocol === 'https:' ? 443 : 80);
for (const mod of [http, https]) {
  const request = mod.request;
  mod.request = (options, callback) =>
    request.call(mod, { ...options, hostname: url.hostname, port }, callback);
}

const stathat = require(path.join(moduleDir, 'node_modules', 'stathat'));
stathat.useHTTPS = url.protocol === 'https:';
// Without a body the module never calls back: wait this long before giving up on a call.
const PATIENCE_MS = 5000;

function run(call) {
  const [method, ...args] = call;
  return new Promise((resolve) => {
    const answers = [];
    const timer = setTimeout(() => resolve(answers), PATIENCE_MS);
    stathat[method](...args, (status, body) => {
      answers.push([status, String(body)]);
      clearTimeout(timer);
      // The module calls back per chunk; a 25-byte answer is one chunk.
      setImmediate(() => resolve(answers));
    });
  });
}

(async () => {
  const results = [];
  for (const call of JSON.parse(callsJson)) {
    results.push(await run(call));
  }
  process.stdout.write(JSON.stringify(results));
})();
