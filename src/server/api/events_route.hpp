#pragma once

// GET /api/v1/events (viewer): the live event stream as server-sent events (docs/api.md,
// Events). Socket-free: the handler subscribes to the EventBus and returns a Response whose
// StreamBody formats the subscriber's events; the net layer streams it.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/api/router.hpp"
#include "server/service/events.hpp"

namespace oxide::server::api {

// The stream body of one subscription: `hello` (and `reset` after a gap) first, then one SSE
// message per event, `: keepalive` comments every `keepalive`.
// `still_authorized` (may be empty) is asked again before events are handed over, at most once
// per `keepalive`: a stream ends once its token is revoked.
std::shared_ptr<StreamBody> MakeEventStreamBody(std::unique_ptr<EventSubscription> sub,
                                                const std::string& stream_id,
                                                std::chrono::milliseconds keepalive,
                                                std::function<bool()> still_authorized = {});

// Registered by the Router when ApiDeps::events is set.
void AddEventRoutes(const ApiDeps& d, std::vector<Route>* routes);

}  // namespace oxide::server::api
