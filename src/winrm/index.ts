export * from './winrm-errors';
export * from './winrm-transport';
export * from './host-connection';
export * from './http-transport';
export * from './soap-messages';
export * from './soap-parser';
export * from './wsman-client';
export * from './host-executor';
