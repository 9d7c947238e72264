// Windows-shaped SOAP faults (always HTTP 500). Shapes, reason texts and their trailing spaces
// follow the captured replies in shared/fixtures/winrm (pypsrp, WinRb, pywinrm).
import { NS_FAULT, envelope, xmlEscape } from './soap-reply';

const WSMAN_FAULT_ACTION = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault';
const ADDRESSING_FAULT_ACTION = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/fault';
const F_NS = 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault';
const FAULT_DETAIL = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail';

export const WSMAN_CODES = {
  timedOut: 2150858793,
  invalidSelectors: 2150858843,
  quotaMaxShells: 2150859173,
  quotaMaxOperations: 2150859174,
  invalidHeader: 2150858767,
  schemaValidation: 2150858817,
  actionNotSupported: 2150858771,
  invalidResourceUri: 2150858811,
  fileNotFound: 2147942402,
  unspecified: 2147500037,
} as const;

export interface WsmanFaultReply {
  /** WSMan (or MSFT_WmiError) code carried by the fault, for counters. */
  code: number;
  subcode: string;
  xml: string;
}

interface WsmanFaultShape {
  action?: string;
  value: 's:Sender' | 's:Receiver';
  subcode: string;
  reason: string;
  faultDetail?: string;
  code: number;
  machine: string;
  message: string;
  /** Nest the message in f:ProviderFault, as the shell plugins (winrscmd.dll, WsmSvc.dll) do. */
  provider?: { name: string; path: string; nestedFault: boolean };
}

function renderFault(relatesTo: string | undefined, f: WsmanFaultShape): WsmanFaultReply {
  const attrs = `xmlns:f="${F_NS}" Code="${f.code}" Machine="${xmlEscape(f.machine)}"`;
  let message = xmlEscape(f.message);
  if (f.provider) {
    const inner = f.provider.nestedFault
      ? `<f:WSManFault ${attrs}><f:Message>${message}</f:Message></f:WSManFault>`
      : message;
    message = `<f:ProviderFault provider="${xmlEscape(f.provider.name)}" path="${xmlEscape(f.provider.path)}">${inner}</f:ProviderFault>`;
  }
  const detail =
    (f.faultDetail ? `<w:FaultDetail>${f.faultDetail}</w:FaultDetail>` : '') +
    `<f:WSManFault ${attrs}><f:Message>${message}</f:Message></f:WSManFault>`;
  const body =
    `<s:Fault><s:Code><s:Value>${f.value}</s:Value><s:Subcode><s:Value>${f.subcode}</s:Value></s:Subcode></s:Code>` +
    `<s:Reason><s:Text xml:lang="en-US">${xmlEscape(f.reason)}</s:Text></s:Reason><s:Detail>${detail}</s:Detail></s:Fault>`;
  return {
    code: f.code,
    subcode: f.subcode,
    xml: envelope(NS_FAULT, f.action ?? WSMAN_FAULT_ACTION, relatesTo, body),
  };
}

const TIMED_OUT_TEXT =
  'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ';

export function timedOutFault(relatesTo: string | undefined, machine: string): WsmanFaultReply {
  return renderFault(relatesTo, {
    value: 's:Receiver',
    subcode: 'w:TimedOut',
    reason: TIMED_OUT_TEXT,
    code: WSMAN_CODES.timedOut,
    machine,
    message: TIMED_OUT_TEXT,
  });
}

const INVALID_SELECTORS_TEXT =
  'The WS-Management service cannot process the request because the request contained invalid selectors for the resource. ';

/** A request naming a shell or command the host does not have: same fault, different wording. */
function invalidSelectorsFault(
  relatesTo: string | undefined,
  machine: string,
  message: string,
  provider?: WsmanFaultShape['provider'],
): WsmanFaultReply {
  return renderFault(relatesTo, {
    value: 's:Sender',
    subcode: 'w:InvalidSelectors',
    reason: INVALID_SELECTORS_TEXT,
    faultDetail: `${FAULT_DETAIL}/UnexpectedSelectors`,
    code: WSMAN_CODES.invalidSelectors,
    machine,
    message,
    ...(provider ? { provider } : {}),
  });
}

export function unknownCommandFault(relatesTo: string | undefined, machine: string): WsmanFaultReply {
  return invalidSelectorsFault(
    relatesTo,
    machine,
    'The Windows Remote Shell received a request to perform an operation on a command identifier that does not exist. ' +
      'Either the command has completed execution or the client specified an invalid command identifier. ',
  );
}

export function unknownShellFault(
  relatesTo: string | undefined,
  machine: string,
  shellId: string,
): WsmanFaultReply {
  return invalidSelectorsFault(
    relatesTo,
    machine,
    `The request for the Windows Remote Shell with ShellId ${shellId} failed because the shell was not found on the server. ` +
      'Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. ' +
      'Provide the correct ShellId or create a new shell and retry the operation. ',
  );
}

/** The nested "Shell provider" variant a host returns for a Get on a shell that no longer exists. */
export function shellNotFoundGetFault(relatesTo: string | undefined, machine: string): WsmanFaultReply {
  return invalidSelectorsFault(relatesTo, machine, INVALID_SELECTORS_TEXT, {
    name: 'Shell provider',
    path: '%systemroot%\\system32\\WsmSvc.dll',
    nestedFault: true,
  });
}

export function internalErrorFault(
  relatesTo: string | undefined,
  machine: string,
  code: number,
  message: string,
): WsmanFaultReply {
  return renderFault(relatesTo, {
    value: 's:Receiver',
    subcode: 'w:InternalError',
    reason: message,
    code,
    machine,
    message,
    provider: { name: 'Shell cmd plugin', path: '%systemroot%\\system32\\winrscmd.dll', nestedFault: false },
  });
}

export function invalidTimeoutHeaderFault(
  relatesTo: string | undefined,
  machine: string,
  value: string,
): WsmanFaultReply {
  return renderFault(relatesTo, {
    action: ADDRESSING_FAULT_ACTION,
    value: 's:Sender',
    subcode: 'a:InvalidMessageInformationHeader',
    reason:
      'The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. ',
    code: WSMAN_CODES.invalidHeader,
    machine,
    message: `The WS-Management service cannot process the request. The XML contains an invalid timeout field in the SOAP header: ${value}. `,
  });
}

export function schemaValidationFault(relatesTo: string | undefined, machine: string): WsmanFaultReply {
  const text =
    'The SOAP XML in the message does not match the corresponding XML schema definition. Change the XML and retry. ';
  return renderFault(relatesTo, {
    value: 's:Sender',
    subcode: 'w:SchemaValidationError',
    reason: text,
    code: WSMAN_CODES.schemaValidation,
    machine,
    message: text,
  });
}

export function actionNotSupportedFault(
  relatesTo: string | undefined,
  machine: string,
  action: string,
): WsmanFaultReply {
  return renderFault(relatesTo, {
    action: ADDRESSING_FAULT_ACTION,
    value: 's:Sender',
    subcode: 'a:ActionNotSupported',
    reason: 'The action is not supported by the service. ',
    code: WSMAN_CODES.actionNotSupported,
    machine,
    message: `The WS-Management service cannot process the request. The action ${action} is not supported by the service. `,
  });
}

export function invalidResourceUriFault(
  relatesTo: string | undefined,
  machine: string,
  resourceUri: string,
): WsmanFaultReply {
  return renderFault(relatesTo, {
    value: 's:Sender',
    subcode: 'w:DestinationUnreachable',
    reason: 'The WS-Management service cannot process the request because the resource URI is not valid. ',
    faultDetail: `${FAULT_DETAIL}/InvalidResourceURI`,
    code: WSMAN_CODES.invalidResourceUri,
    machine,
    message: `The WS-Management service cannot process the request. The resource URI ${resourceUri} was not found. `,
  });
}

interface WmiErrorShape {
  value: 's:Sender' | 's:Receiver';
  subcode: string;
  reason: string;
  message: string;
  code: number;
}

// Quota faults carry the code in a CIM error object, not in f:WSManFault (WinRb wmi_error_v2.xml).
function renderWmiError(relatesTo: string | undefined, e: WmiErrorShape): WsmanFaultReply {
  const nil = (name: string, type: string): string => `<p:${name} xsi:nil="true" xsi:type="cim:${type}"/>`;
  const val = (name: string, type: string, v: string | number): string =>
    `<p:${name} xsi:type="cim:${type}">${typeof v === 'string' ? xmlEscape(v) : v}</p:${name}>`;
  const hresult = `HRESULT 0x${e.code.toString(16)}`;
  const detail =
    `<p:MSFT_WmiError b:IsCIM_Error="true" xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" ` +
    `xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" ` +
    `xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError" xsi:type="p:MSFT_WmiError_Type" ` +
    `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    val('CIMStatusCode', 'cimUnsignedInt', 27) +
    nil('CIMStatusCodeDescription', 'cimString') +
    nil('ErrorSource', 'cimString') +
    val('ErrorSourceFormat', 'cimUnsignedShort', 0) +
    val('ErrorType', 'cimUnsignedShort', 0) +
    val('Message', 'cimString', e.message) +
    val('MessageID', 'cimString', hresult) +
    nil('OtherErrorSourceFormat', 'cimString') +
    nil('OtherErrorType', 'cimString') +
    nil('OwningEntity', 'cimString') +
    val('PerceivedSeverity', 'cimUnsignedShort', 0) +
    val('ProbableCause', 'cimUnsignedShort', 0) +
    nil('ProbableCauseDescription', 'cimString') +
    val('error_Category', 'cimUnsignedInt', 30) +
    val('error_Code', 'cimUnsignedInt', e.code) +
    val('error_Type', 'cimString', 'HRESULT') +
    val('error_WindowsErrorMessage', 'cimString', e.message) +
    '</p:MSFT_WmiError>';
  const body =
    `<s:Fault><s:Code><s:Value>${e.value}</s:Value><s:Subcode><s:Value>${e.subcode}</s:Value></s:Subcode></s:Code>` +
    `<s:Reason><s:Text xml:lang="en-US">${xmlEscape(e.reason)}</s:Text></s:Reason><s:Detail>${detail}</s:Detail></s:Fault>`;
  return { code: e.code, subcode: e.subcode, xml: envelope(NS_FAULT, WSMAN_FAULT_ACTION, relatesTo, body) };
}

export function quotaMaxShellsFault(relatesTo: string | undefined, maxShells: number): WsmanFaultReply {
  return renderWmiError(relatesTo, {
    value: 's:Sender',
    subcode: 'w:QuotaLimit',
    reason:
      'The WS-Management service cannot process the request. The maximum number of concurrent shells for this user ' +
      'has been exceeded. Close existing shells or raise the quota for this user. ',
    message:
      `The WS-Management service cannot process the request. This user is allowed a maximum number of ${maxShells} ` +
      'concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. ',
    code: WSMAN_CODES.quotaMaxShells,
  });
}

export function quotaMaxOperationsFault(
  relatesTo: string | undefined,
  maxOperations: number,
): WsmanFaultReply {
  const text =
    `The WS-Management service cannot process the request. This user is allowed a maximum number of ${maxOperations} ` +
    'concurrent operations, which has been exceeded. Close existing operations for this user, or raise the quota for this user. ';
  return renderWmiError(relatesTo, {
    value: 's:Receiver',
    subcode: 'w:InternalError',
    reason: text,
    message: text,
    code: WSMAN_CODES.quotaMaxOperations,
  });
}
