-- wrk script: POST …/access-token with the worker's bearer token.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WORKER")
