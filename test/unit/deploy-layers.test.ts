/** Unit tests for where `shlambda deploy` puts the remembered layer among a function's layers. */

import { describe, expect, it } from 'vitest';
import { withLayer } from '../../scripts/deploy-command.ts';

const ARN = (name: string, version: number) =>
  `arn:aws:lambda:us-east-1:000000000000:layer:${name}:${version}`;

describe('withLayer', () => {
  it.each([
    ['a function without layers', [], [ARN('shlambda', 4)]],
    [
      'an older version of it, in its place',
      [ARN('php', 1), ARN('shlambda', 3), ARN('tools', 2)],
      [ARN('php', 1), ARN('shlambda', 4), ARN('tools', 2)],
    ],
    [
      'other layers only: it comes last, so its bootstrap wins',
      [ARN('php', 1)],
      [ARN('php', 1), ARN('shlambda', 4)],
    ],
    ['the same version already', [ARN('shlambda', 4), ARN('php', 1)], [ARN('shlambda', 4), ARN('php', 1)]],
    [
      'a layer whose name only starts the same',
      [ARN('shlambda-extra', 1)],
      [ARN('shlambda-extra', 1), ARN('shlambda', 4)],
    ],
    [
      'shlambda layers under the names publish --arch all gives: one place, no second copy',
      [ARN('shlambda-x86_64', 2), ARN('php', 1), ARN('shlambda', 3)],
      [ARN('shlambda', 4), ARN('php', 1)],
    ],
  ])('%s', (_, current, expected) => {
    expect(withLayer(current, ARN('shlambda', 4))).toEqual(expected);
  });

  it('treats a layer the state file remembers as shlambda too, whatever its name', () => {
    const custom = ARN('my-runtime', 7);
    const remembered = (arn: string) => arn === custom;
    expect(withLayer([ARN('php', 1), custom], ARN('shlambda', 4), remembered)).toEqual([
      ARN('php', 1),
      ARN('shlambda', 4),
    ]);
  });
});
