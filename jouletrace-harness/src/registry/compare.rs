/// Equality within an absolute-or-relative tolerance, for `#[joule_bench(tolerance = …)]`.
///
/// Two floats are equal when `|a - b| <= tol * max(1, |a|, |b|)`: absolute near zero, relative
/// for large magnitudes. Containers compare element-wise and must have equal lengths.
pub trait ApproxEq {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool;
}

impl ApproxEq for f64 {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        if self.is_nan() || other.is_nan() {
            return self.is_nan() && other.is_nan();
        }
        if self == other {
            return true;
        }
        let scale = 1f64.max(self.abs()).max(other.abs());
        (self - other).abs() <= tol * scale
    }
}

impl ApproxEq for f32 {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        f64::from(*self).approx_eq(&f64::from(*other), tol)
    }
}

impl<T: ApproxEq> ApproxEq for [T] {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.approx_eq(b, tol))
    }
}

impl<T: ApproxEq> ApproxEq for Vec<T> {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        self.as_slice().approx_eq(other.as_slice(), tol)
    }
}

impl<T: ApproxEq, const N: usize> ApproxEq for [T; N] {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        self.as_slice().approx_eq(other.as_slice(), tol)
    }
}

impl<T: ApproxEq> ApproxEq for Option<T> {
    fn approx_eq(&self, other: &Self, tol: f64) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => a.approx_eq(b, tol),
            (None, None) => true,
            _ => false,
        }
    }
}

macro_rules! tuple_approx {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: ApproxEq),+> ApproxEq for ($($name,)+) {
            fn approx_eq(&self, other: &Self, tol: f64) -> bool {
                $(self.$idx.approx_eq(&other.$idx, tol))&&+
            }
        }
    };
}
tuple_approx!(A 0);
tuple_approx!(A 0, B 1);
tuple_approx!(A 0, B 1, C 2);
tuple_approx!(A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::ApproxEq;

    #[test]
    fn tolerance_is_relative_for_large_and_absolute_for_small() {
        assert!(1e9f64.approx_eq(&(1e9 + 0.5), 1e-9));
        assert!(!1e9f64.approx_eq(&(1e9 + 5.0), 1e-9));
        assert!(0.0f64.approx_eq(&1e-10, 1e-9));
        assert!(!0.0f64.approx_eq(&1e-8, 1e-9));
        assert!(vec![1.0, 2.0].approx_eq(&vec![1.0, 2.0 + 1e-12], 1e-9));
        assert!(!vec![1.0].approx_eq(&vec![1.0, 2.0], 1e-9));
        assert!((1.0f64, 2.0f32).approx_eq(&(1.0, 2.0), 1e-9));
        assert!(f64::NAN.approx_eq(&f64::NAN, 0.0));
    }
}
