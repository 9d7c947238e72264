// The structure comparison used by the conformance tests must tell real differences apart.
import { describeWithWinrmFixtures, readWinrmFixture } from '../../helpers/fixtures';
import { renderShape, xmlShape } from './xml-structure';

describe('xmlShape', () => {
  test('keeps prefixes, nesting and attribute names; ignores values and text', () => {
    const a = xmlShape('<s:E xmlns:s="u"><s:B x="1">text</s:B></s:E>');
    expect(a).toEqual({
      name: 's:E',
      attrs: ['xmlns:s'],
      children: [{ name: 's:B', attrs: ['x'], children: [] }],
    });
    expect(xmlShape('<s:E xmlns:s="v"><s:B x="2">other</s:B></s:E>')).toEqual(a);
  });

  test('differs on a prefix, a missing attribute, a missing child or a different order', () => {
    const base = renderShape(xmlShape('<s:E><a:X n="1"/><a:Y/></s:E>'));
    expect(renderShape(xmlShape('<s:E><b:X n="1"/><a:Y/></s:E>'))).not.toBe(base);
    expect(renderShape(xmlShape('<s:E><a:X/><a:Y/></s:E>'))).not.toBe(base);
    expect(renderShape(xmlShape('<s:E><a:X n="1"/></s:E>'))).not.toBe(base);
    expect(renderShape(xmlShape('<s:E><a:Y/><a:X n="1"/></s:E>'))).not.toBe(base);
  });

  test('collapses runs of identical siblings only', () => {
    expect(xmlShape('<r><s/><s/><s/><t/></r>')).toEqual(xmlShape('<r><s/><t/></r>'));
    expect(xmlShape('<r><s/><t/><s/></r>')).not.toEqual(xmlShape('<r><s/><t/></r>'));
  });
});

describeWithWinrmFixtures('xmlShape on the captures', () => {
  // (A Done reply with stderr has the same structure as one without: both streams' pieces carry
  // the same attributes.)
  test('distinguishes the reply types', () => {
    const names = [
      'pypsrp_winrs_standard_01_response_CreateResponse.xml',
      'pypsrp_winrs_standard_02_response_CommandResponse.xml',
      'pypsrp_winrs_standard_03_response_ReceiveResponse.xml',
      'pypsrp_winrs_operation_timeout_03_response_ReceiveResponse.xml',
      'pypsrp_winrs_standard_04_response_SignalResponse.xml',
      'pypsrp_winrs_send_03_response_SendResponse.xml',
      'pypsrp_winrs_standard_05_response_DeleteResponse.xml',
      'pypsrp_winrs_operation_timeout_04_response_fault.xml',
      'pypsrp_winrs_bad_cmd_id_03_response_fault.xml',
      'winrb_wmi_error_v2.xml',
    ];
    const shapes = names.map((n) => renderShape(xmlShape(readWinrmFixture(n), ['p:ActivityId'])));
    expect(new Set(shapes).size).toBe(names.length);
  });
});
