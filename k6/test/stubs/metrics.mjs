import { state } from './state.mjs';

class Metric {
  constructor(name, type) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('invalid metric name ' + name);
    this.name = name;
    state.metrics[name] = { type, samples: [] };
  }
  add(v, tags) {
    if (typeof v === 'boolean') v = v ? 1 : 0;
    if (typeof v !== 'number' || !isFinite(v)) throw new Error('metric ' + this.name + ': not a number: ' + v);
    state.metrics[this.name].samples.push(v);
  }
}

export class Counter extends Metric {
  constructor(n) {
    super(n, 'counter');
  }
}
export class Rate extends Metric {
  constructor(n) {
    super(n, 'rate');
  }
}
export class Trend extends Metric {
  constructor(n) {
    super(n, 'trend');
  }
}
export class Gauge extends Metric {
  constructor(n) {
    super(n, 'gauge');
  }
}
