// The registry of every error code hvgate returns. Codes are stable API: add, never rename.
// `hint` is the default "what to do next" when the thrower has nothing more specific.

export const errorCodes = {
  HVG_ERR_BAD_REQUEST: { status: 400, title: 'Bad request', hint: 'Fix the request and send it again.' },
  HVG_ERR_VALIDATION: {
    status: 400,
    title: 'Request body or parameters are invalid',
    hint: 'See `errors` for each field that failed; the OpenAPI document at /openapi.json lists the fields.',
  },
  HVG_ERR_PATH_NOT_ALLOWED: {
    status: 400,
    title: 'Path is outside the host’s allowed roots',
    hint: 'Use a path under one of the roots listed in `allowedRoots`.',
  },
  HVG_ERR_WILDCARD_NAME: {
    status: 400,
    title: 'VM names with wildcard characters are refused',
    hint: 'Address the VM by its GUID or by its exact name without * ? [ ].',
  },
  HVG_ERR_AUDIT_BAD_QUERY: {
    status: 400,
    title: 'Audit query is invalid',
    hint: 'Check the filters, the time format (ISO-8601) and that the cursor comes from the same query.',
  },
  HVG_ERR_UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication required',
    hint: 'Send a valid bearer token in the Authorization header.',
  },
  HVG_ERR_FORBIDDEN: {
    status: 403,
    title: 'Not allowed',
    hint: 'Ask for a token with the required scope and host grant.',
  },
  HVG_ERR_HOST_ACCESS_DENIED: {
    status: 403,
    title: 'The host refused the operation (access denied)',
    hint: 'Check that the WinRM account is in Hyper-V Administrators on the host.',
  },
  HVG_ERR_NOT_FOUND: { status: 404, title: 'Not found', hint: 'Check the URL.' },
  HVG_ERR_UNKNOWN_HOST: {
    status: 404,
    title: 'Unknown host',
    hint: 'GET /v1/hosts lists the hosts in the inventory.',
  },
  HVG_ERR_VM_NOT_FOUND: {
    status: 404,
    title: 'Virtual machine not found on this host',
    hint: 'GET /v1/hosts/{host}/vms lists the VMs on the host.',
  },
  HVG_ERR_DEVICE_NOT_FOUND: {
    status: 404,
    title: 'Device not found on this VM',
    hint: 'GET /v1/hosts/{host}/vms/{vm} lists the VM’s devices.',
  },
  HVG_ERR_JOB_NOT_FOUND: { status: 404, title: 'Job not found', hint: 'GET /v1/jobs lists your jobs.' },
  HVG_ERR_METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    hint: 'See the Allow header for the methods this resource accepts.',
  },
  HVG_ERR_AMBIGUOUS_VM_NAME: {
    status: 409,
    title: 'More than one VM has this name',
    hint: 'Address the VM by one of the GUIDs listed in `candidates`.',
  },
  HVG_ERR_PRECONDITION: {
    status: 409,
    title: 'The VM is not in a state that allows this change',
    hint: 'Read the rule in `detail`; GET the VM to see its current facts.',
  },
  HVG_ERR_REQUIRES_GEN2: {
    status: 409,
    title: 'Requires a Generation 2 VM',
    hint: 'Generation cannot be changed; make the change while the VM is off, or use a Generation 2 VM.',
  },
  HVG_ERR_VM_STATE: {
    status: 409,
    title: 'The VM’s state does not allow this change',
    hint: 'Check `state` in GET /v1/hosts/{host}/vms/{vm}.',
  },
  HVG_ERR_VM_VERSION: {
    status: 409,
    title: 'The VM’s configuration version is too old for this change',
    hint: 'Upgrade the configuration version with Update-VMVersion while the VM is off (irreversible).',
  },
  HVG_ERR_CAPACITY: {
    status: 409,
    title: 'Not enough capacity on the host or VM',
    hint: 'Choose a smaller value or free capacity first.',
  },
  HVG_ERR_CONFLICT: {
    status: 409,
    title: 'The host reported a conflicting state',
    hint: 'GET the VM to see its current facts, then retry with values that fit.',
  },
  HVG_ERR_OBJECT_IN_USE: {
    status: 409,
    title: 'The object is in use on the host',
    hint: 'Detach the disk or wait for the other operation to finish, then retry.',
  },
  HVG_ERR_MIGRATION_DELEGATION: {
    status: 409,
    title: 'Live migration cannot authenticate from the source host to the destination (double hop)',
    hint: 'Configure Kerberos constrained delegation on the source host’s computer account to the destination’s `cifs` and `Microsoft Virtual System Migration Service` services with “use any authentication protocol”, set the migration authentication type to Kerberos, then retry.',
  },
  HVG_ERR_JOB_NOT_CANCELLABLE: {
    status: 409,
    title: 'Only queued jobs can be cancelled',
    hint: 'A running job finishes or fails on its own; poll it.',
  },
  HVG_ERR_CANCELLED: {
    status: 409,
    title: 'The job was cancelled',
    hint: 'Nothing was sent to the host; submit the request again if it is still wanted.',
  },
  HVG_ERR_JOB_INTERRUPTED: {
    status: 409,
    title: 'The job was interrupted by a gateway restart',
    hint: 'The outcome on the host is unknown; GET the VM to check before retrying.',
  },
  HVG_ERR_REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request not received in time',
    hint: 'Send the whole request (headers within 20 s of connecting) and try again.',
  },
  HVG_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'Request body too large',
    hint: 'Bodies are limited to 64 KiB.',
  },
  HVG_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    hint: 'Send Content-Type: application/json.',
  },
  HVG_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    title: 'Idempotency-Key reused with a different request',
    hint: 'Use a new Idempotency-Key for a different request.',
  },
  HVG_ERR_NOT_SUPPORTED: {
    status: 422,
    title: 'Not supported for this VM or host',
    hint: 'See `detail` for the requirement that is not met.',
  },
  HVG_ERR_INVALID_VALUE: {
    status: 422,
    title: 'The value does not fit this VM, disk or host',
    hint: 'Read `detail`; GET the VM or host to see its current facts and choose a value that fits.',
  },
  HVG_ERR_HOST_BUSY: {
    status: 429,
    title: 'Host busy',
    hint: 'Retry after the number of seconds in Retry-After.',
  },
  HVG_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request headers too large',
    hint: 'Keep all request headers under 16 KiB together; a bearer token is usually the large one.',
  },
  HVG_ERR_INTERNAL: {
    status: 500,
    title: 'Internal error',
    hint: 'Retry later; report the requestId if it persists.',
  },
  HVG_ERR_HOST_FAILURE: {
    status: 502,
    title: 'The host failed the operation',
    hint: 'See `detail` for the host’s message; the change was not applied.',
  },
  HVG_ERR_HOST_PROTOCOL: {
    status: 502,
    title: 'The host answered something hvgate could not understand',
    hint: 'Check the host’s WinRM and PowerShell setup with `hvgate selftest`.',
  },
  HVG_ERR_HOST_UNAVAILABLE: {
    status: 503,
    title: 'Host unavailable',
    hint: 'The host is unreachable or its circuit is open; retry after Retry-After.',
  },
  HVG_ERR_HOST_AUTH: {
    status: 503,
    title: 'hvgate could not authenticate to the host',
    hint: 'An operator must fix the host’s WinRM credentials or TLS trust in the configuration.',
  },
  HVG_ERR_AUDIT_UNAVAILABLE: {
    status: 503,
    title: 'Audit trail unavailable',
    hint: 'Nothing was changed. Retry when the audit store is writable again.',
  },
  HVG_ERR_QUEUE_TIMEOUT: {
    status: 503,
    title: 'The job waited too long in the host’s queue',
    hint: 'Nothing was sent to the host; retry after Retry-After.',
  },
  HVG_ERR_GATEWAY_BUSY: {
    status: 503,
    title: 'Gateway busy',
    hint: 'Too many requests are waiting to be taken in; retry after Retry-After.',
  },
  HVG_ERR_SHUTTING_DOWN: {
    status: 503,
    title: 'Gateway shutting down',
    hint: 'Retry; another replica or the restarted gateway will take the request.',
  },
  HVG_ERR_TIMEOUT: {
    status: 504,
    title: 'The host did not finish in time',
    hint: 'The outcome on the host is unknown; GET the VM to check before retrying.',
  },
} as const satisfies Record<string, { status: number; title: string; hint: string }>;

export type ErrorCode = keyof typeof errorCodes;
