// Package website builds Shoal's documentation site: Markdown pages (the
// hand-written ones in website/content and the design notes in docs/) and
// reference pages generated from the code's own tables — the HTTP router's
// routes (agent.Routes), the CLI's commands (command.Commands), the agent's
// configuration (agent/config) and the service spec (sched.Spec) — rendered
// with goldmark and chroma into html/template layouts.
//
// Build is pure over its inputs and deterministic, so the built site can be
// committed (website/dist, embedded by every agent at /docs/) and a test can
// rebuild it and fail when the committed copy is stale. Build checks every
// internal link and anchor of the result and fails on a broken one.
//
// The API reference shows, for each route, a curl example and the response a
// real agent gave; those are captured into examples/api.json by
// TestAPIExamples (run with -update to refresh them), which also re-runs
// every example against a running agent and checks status and JSON shape.
package website
