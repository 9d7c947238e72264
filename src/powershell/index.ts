export * from './script-errors';
export * from './script-template';
export * from './script-render';
export * from './command-line';
export * from './script-output';
export * from './clixml';
