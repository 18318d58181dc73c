-- wrk script: GET the secret with the worker's bearer token.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WORKER")
