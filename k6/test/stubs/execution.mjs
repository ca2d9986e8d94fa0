export default { scenario: { name: 'test', startTime: Date.now(), iterationInTest: 0 }, vu: { idInTest: 1 } };
