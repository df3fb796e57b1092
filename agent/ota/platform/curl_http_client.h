// The real HttpClient (agent/ota/platform.h) over libcurl's easy interface:
// one blocking request per Send on the calling thread, no redirects, no
// proxies from the environment. The one adapter over libcurl for the OTA
// client. An instance may be used by one thread at a time; distinct
// instances on distinct threads are independent.
#pragma once

#include "agent/ota/platform.h"

namespace edgefleet::ota {

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  Expected<HttpResponse> Send(const HttpRequest& request) override;
};

}  // namespace edgefleet::ota
