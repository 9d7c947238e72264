// Lets a child process run the TypeScript sources directly (node -r ./ts-register.js src/cli.ts …),
// so the demo test exercises real signals and exit codes without a prior `npm run build`.
'use strict';
const swc = require('@swc/core');

const options = {
  jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformFileSync(filename, options);
  module._compile(code, filename);
};
